// What the node's API returns, as the views use it.
export type Task = {
  id: number;
  requester: string;
  title: string;
  description: string;
  modality: string;
  rules: { review?: { labels?: string[]; k?: number } };
  reward_per_item: string;
  target_count: number;
  deadline: string;
  consent_text: string;
  consent_hash: string;
  licence: string;
  allowed_jurisdictions: string[];
  status: string;
  submission_count: number;
};
export type Change = { from_state: string | null; to_state: string; reason: string | null; at: string };
export type Submission = {
  id: number;
  task_id: number;
  cid: string;
  state: string;
  created_at: string;
  history: Change[];
  details: Record<string, unknown>;
};
export type Claim = {
  task_id: number;
  escrow: string;
  escrow_task_id: number;
  vault?: string;
  epoch: number;
  account: string;
  cumulative: string;
  claimed: string;
  claimable: string;
  proof: `0x${string}`[];
};
