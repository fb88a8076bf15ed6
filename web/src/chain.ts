// The node's chain through viem: reads and raw transactions go through the node's relay
// (POST /v1/chain/rpc, same origin), so a phone that reaches the node can use its chain.
// Injected wallets send through their own provider; the development wallet signs locally.
import {
  createPublicClient,
  createWalletClient,
  custom,
  defineChain,
  formatUnits,
  http,
  parseAbi,
  parseEventLogs,
  type Account,
  type Address,
  type Chain,
  type EIP1193Provider,
  type Hash,
  type PublicClient,
  type WalletClient,
} from "viem";
import { api } from "./api";

export type ChainInfo = {
  chain_id: number;
  token: Address;
  escrow: Address;
  staking: Address;
  registry: Address;
  market: Address;
  embedded: boolean;
};

export const erc20Abi = parseAbi([
  "function approve(address spender, uint256 amount) returns (bool)",
  "function allowance(address owner, address spender) view returns (uint256)",
  "function balanceOf(address owner) view returns (uint256)",
  "function decimals() view returns (uint8)",
  "function symbol() view returns (string)",
]);

export const escrowAbi = parseAbi([
  "function openTask(address token, uint256 amount, uint256 deadline, uint256 claimWindow, uint256 rewardPerItem, uint256 challengeWindow) returns (uint256)",
  "function vaultOf(uint256 taskId) view returns (address)",
  "event TaskOpened(uint256 indexed taskId, address indexed requester, address indexed token, uint256 funded, uint256 deadline, uint256 claimWindow, address vault, uint256 rewardPerItem, uint256 challengeWindow)",
]);

// Each task's vault pays its claims (one escrow contract per task keeps claims cheap).
export const vaultAbi = parseAbi(["function claim(address account, uint256 cumulativeAmount, bytes32[] proof)"]);

export const stakingAbi = parseAbi([
  "function stake(uint256 amount)",
  "function requestUnbond(uint256 amount)",
  "function withdraw()",
  "function validators(address validator) view returns (uint256 staked, uint256 unbonding, uint256 unbondingReleaseAt, uint256 slashed)",
  "function unbondingDelay() view returns (uint256)",
]);

let info: Promise<ChainInfo | null> | null = null;

/** The node's chain (GET /v1/health), or null where it runs without one. */
export function chainInfo(): Promise<ChainInfo | null> {
  info ??= api<{ chain?: Partial<ChainInfo> & { status?: string } }>("GET", "/health").then(
    (h) => (h.chain && h.chain.escrow ? (h.chain as ChainInfo) : null),
    () => null,
  );
  return info;
}

const relay = () => `${location.origin}/v1/chain/rpc`;

export function chainOf(c: ChainInfo): Chain {
  return defineChain({
    id: c.chain_id,
    name: c.embedded ? "DataCoop local chain" : `chain ${c.chain_id}`,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [relay()] } },
  });
}

export function reader(c: ChainInfo): PublicClient {
  return createPublicClient({ chain: chainOf(c), transport: http(relay()) });
}

/** A wallet client for a local (development) account or an injected EIP-1193 provider. */
export function writer(c: ChainInfo, account: Account | Address, provider?: EIP1193Provider): WalletClient {
  const transport = provider ? custom(provider) : http(relay());
  return createWalletClient({ account, chain: chainOf(c), transport });
}

/** What amounts are in: a task's token (from the API's ``token``) or the node's own. */
export type Token = { symbol: string; decimals: number };
let token: Promise<Token> | null = null;

export function tokenOf(c: ChainInfo): Promise<Token> {
  const r = reader(c);
  token ??= Promise.all([
    r.readContract({ address: c.token, abi: erc20Abi, functionName: "symbol" }),
    r.readContract({ address: c.token, abi: erc20Abi, functionName: "decimals" }),
  ]).then(([symbol, decimals]) => ({ symbol, decimals }));
  return token;
}

export const amount = (units: bigint | string, t: Token) => `${formatUnits(BigInt(units), t.decimals)} ${t.symbol}`;

export function balanceOf(c: ChainInfo, owner: Address): Promise<bigint> {
  return reader(c).readContract({ address: c.token, abi: erc20Abi, functionName: "balanceOf", args: [owner] });
}

/** Send and wait for the receipt; throws with the revert reason where the chain gives one. */
export async function sendAndWait(
  c: ChainInfo,
  w: WalletClient,
  call: Parameters<WalletClient["writeContract"]>[0],
): Promise<{ hash: Hash; logs: readonly unknown[] }> {
  const r = reader(c);
  const { request } = await r.simulateContract({ ...call, account: w.account } as never);
  const hash = await w.writeContract(request as never);
  const receipt = await r.waitForTransactionReceipt({ hash, pollingInterval: 500 });
  if (receipt.status !== "success") throw new Error(`transaction ${hash} reverted`);
  return { hash, logs: receipt.logs };
}

/** approve + openTask: the task's budget, in the task's token, into escrow; returns the escrow task id.
 * `rewardPerItem` bounds what each root may add per accepted item (default: the whole budget, no
 * bound below it); `challengeWindow` is how long each root waits before it pays (default: none on
 * the local chain 31337, an hour, the contract's minimum, elsewhere). */
export async function fundTask(
  c: ChainInfo,
  w: WalletClient,
  token: Address,
  units: bigint,
  deadline: bigint,
  claimWindow: bigint,
  onStep: (step: "approve" | "open") => void,
  rewardPerItem: bigint = units,
  challengeWindow: bigint = c.chain_id === 31337 ? 0n : 3600n,
): Promise<bigint> {
  onStep("approve");
  await sendAndWait(c, w, { address: token, abi: erc20Abi, functionName: "approve", args: [c.escrow, units] } as never);
  onStep("open");
  const { logs } = await sendAndWait(c, w, {
    address: c.escrow,
    abi: escrowAbi,
    functionName: "openTask",
    args: [token, units, deadline, claimWindow, rewardPerItem, challengeWindow],
  } as never);
  const opened = parseEventLogs({ abi: escrowAbi, eventName: "TaskOpened", logs: logs as never });
  if (!opened.length) throw new Error("the escrow opened no task");
  return opened[0].args.taskId;
}

export type ClaimProof = {
  escrow: string;
  escrow_task_id: number;
  vault?: string;
  account: string;
  cumulative: string;
  proof: `0x${string}`[];
};

/** Send the claim of one task's cumulative entitlement to the task's vault (anyone may send it; the
 * tokens always go to the account). */
export async function claim(c: ChainInfo, w: WalletClient, p: ClaimProof): Promise<Hash> {
  const vault =
    (p.vault as Address | undefined) ??
    (await reader(c).readContract({
      address: p.escrow as Address,
      abi: escrowAbi,
      functionName: "vaultOf",
      args: [BigInt(p.escrow_task_id)],
    }));
  const call = {
    address: vault,
    abi: vaultAbi,
    functionName: "claim",
    args: [p.account as Address, BigInt(p.cumulative), p.proof],
  };
  return (await sendAndWait(c, w, call as never)).hash;
}
