// What the node's API returns, as the views use it: names for the shapes generated from the node's
// /openapi.json into api.gen.ts (`make web-types`; never edit api.gen.ts by hand, a test fails when it is stale).
import type { components } from "./api.gen";

type Schemas = components["schemas"];

export type Task = Schemas["TaskPublic"];
export type Change = Schemas["StateChange"];
export type Submission = Schemas["SubmissionPublic"];
export type Dashboard = Schemas["TaskDashboard"];
export type Spend = Schemas["SpendPublic"];
export type Statement = Schemas["StatementPublic"];
// JSON Schema has no 0x-string type: viem's calls want the proof's words typed as hex.
export type Claim = Omit<Schemas["ClaimPublic"], "proof"> & { proof: `0x${string}`[] };
