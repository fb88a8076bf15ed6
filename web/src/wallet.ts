// Wallets: EIP-6963 discovery (mipd) of injected EIP-1193 wallets through viem, and the local
// node's DEVELOPMENT accounts (viem local accounts from keys the node hands out in development only).
import { createStore, type EIP6963ProviderDetail } from "mipd";
import {
  createWalletClient,
  custom,
  getAddress,
  type Address,
  type TypedDataDefinition,
  type WalletClient,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { createSiweMessage } from "viem/siwe";
import { api } from "./api";
import { chainOf, writer, type ChainInfo } from "./chain";

export type Wallet = {
  name: string;
  address: Address;
  dev: boolean;
  signMessage(message: string): Promise<`0x${string}`>;
  signTypedData(typed: TypedDataDefinition): Promise<`0x${string}`>;
  /** A client that sends this wallet's transactions to the node's chain. */
  client(chain: ChainInfo): Promise<WalletClient>;
};

export const discovery = createStore();
export type Injected = EIP6963ProviderDetail;

export async function connectInjected(detail: Injected): Promise<Wallet> {
  const client = createWalletClient({ transport: custom(detail.provider) });
  const [address] = await client.requestAddresses();
  return {
    name: detail.info.name,
    address: getAddress(address),
    dev: false,
    signMessage: (message) => client.signMessage({ account: address, message }),
    signTypedData: (typed) => client.signTypedData({ ...typed, account: address } as never),
    client: async (chain) => {
      const w = writer(chain, getAddress(address), detail.provider);
      if ((await w.getChainId()) !== chain.chain_id) {
        try {
          await w.switchChain({ id: chain.chain_id });
        } catch {
          await w.addChain({ chain: chainOf(chain) });
        }
      }
      return w;
    },
  };
}

export type DevAccount = { address: string; private_key: `0x${string}` };

export async function devAccounts(): Promise<DevAccount[]> {
  try {
    return await api<DevAccount[]>("GET", "/dev/accounts");
  } catch {
    return []; // a production node answers 404: no development wallet there
  }
}

export function devWallet(account: DevAccount, n: number): Wallet {
  const local = privateKeyToAccount(account.private_key);
  return {
    name: `DEVELOPMENT ${n}`,
    address: local.address,
    dev: true,
    signMessage: (message) => local.signMessage({ message }),
    signTypedData: (typed) => local.signTypedData(typed as never),
    client: async (chain) => writer(chain, local),
  };
}

type Nonce = { nonce: string; domain: string; chain_id: number; uri: string };
export type Session = { token: string; address: string; did: string; expires_at: string };

/** EIP-4361: the node's nonce, domain and chain in a message the wallet signs, exchanged for a token. */
export async function signIn(wallet: Wallet): Promise<Session> {
  const n = await api<Nonce>("GET", "/auth/nonce");
  const now = new Date();
  const message = createSiweMessage({
    domain: n.domain,
    address: wallet.address,
    uri: n.uri,
    chainId: n.chain_id,
    nonce: n.nonce,
    version: "1",
    statement: "Sign in to DataCoop.",
    issuedAt: now,
    expirationTime: new Date(now.getTime() + 10 * 60_000),
  });
  const signature = await wallet.signMessage(message);
  return api<Session>("POST", "/auth/siwe", { message, signature });
}

type Eip712 = {
  domain: Record<string, unknown>;
  types: Record<string, { name: string; type: string }[]>;
};
let eip712: Promise<Eip712> | null = null;

const snake = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** The node's EIP-712 domain and types (GET /v1/eip712) around one message, keyed as the types name them. */
export async function typedData(
  primaryType: string,
  values: Record<string, unknown>,
): Promise<TypedDataDefinition> {
  eip712 ??= api<Eip712>("GET", "/eip712");
  const { domain, types } = await eip712;
  const fields = types[primaryType];
  const message = Object.fromEntries(fields.map((f) => [f.name, values[f.name] ?? values[snake(f.name)]]));
  const { EIP712Domain: _domain, ...rest } = types;
  return { domain, types: rest, primaryType, message } as unknown as TypedDataDefinition;
}
