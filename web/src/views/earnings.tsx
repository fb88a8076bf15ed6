// Earnings per task and epoch, the wallet's token balance, and a claim button that sends the claim.
import { useState } from "preact/hooks";
import { apiAll } from "../api";
import { amount, balanceOf, chainInfo, claim, tokenOf, type ChainInfo, type Token } from "../chain";
import type { T } from "../i18n";
import { usePoll } from "../hooks";
import type { Claim } from "../types";
import { errorText } from "../util";
import type { Wallet } from "../wallet";

export function Earnings({ t, wallet }: { t: T; wallet: Wallet }) {
  const [claims, setClaims] = useState<Claim[] | null>(null);
  const [chain, setChain] = useState<ChainInfo | null>(null);
  const [token, setToken] = useState<Token | null>(null);
  const [balance, setBalance] = useState<bigint | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [status, setStatus] = useState<string | null>(null);
  const [busy, setBusy] = useState<number | null>(null);
  const load = async () => {
    try {
      setClaims(await apiAll<Claim>(`/claims/${wallet.address}`));
      setError(null);
    } catch (err) {
      setError(errorText(t, err));
    }
    const c = await chainInfo();
    setChain(c);
    if (c) {
      setToken(await tokenOf(c));
      setBalance(await balanceOf(c, wallet.address));
    }
  };
  usePoll(load, 5000, [wallet.address]);
  // the wallet's balance is in the node's token; each claim in its own task's token (any ERC-20)
  const money = (units: string | bigint, of: Token | null | undefined = token) =>
    of ? amount(units, of) : String(units);
  const send = async (c: Claim) => {
    if (!chain) return;
    setBusy(c.task_id);
    setStatus(t("earn.claiming"));
    try {
      const hash = await claim(chain, await wallet.client(chain), c);
      setStatus(t("earn.claimed.done", { amount: money(c.claimable, c.token ?? token), hash }));
      await load();
    } catch (err) {
      setStatus(t("earn.claim.failed", { message: errorText(t, err) }));
    } finally {
      setBusy(null);
    }
  };
  return (
    <section aria-labelledby="earn-h">
      <h1 id="earn-h">{t("earn.heading")}</h1>
      <p>{t("earn.intro")}</p>
      {balance !== null && (
        <p class="balance">
          {t("earn.balance")} <strong data-testid="balance">{money(balance)}</strong>
        </p>
      )}
      {error && <p role="alert" class="error">{error}</p>}
      {status && (
        <p role="status" data-testid="claim-status">
          {status}
        </p>
      )}
      {claims && claims.length === 0 && <p>{t("earn.empty")}</p>}
      {claims && claims.length > 0 && (
        <div class="scroll">
          <table class="stack">
            <thead>
              <tr>
                <th scope="col">{t("earn.task")}</th>
                <th scope="col">{t("earn.epoch")}</th>
                <th scope="col">{t("earn.total")}</th>
                <th scope="col">{t("earn.claimed")}</th>
                <th scope="col">{t("earn.claimable")}</th>
                <th scope="col">
                  <span class="sr">{t("earn.action")}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {claims.map((c) => (
                <tr data-testid="claim-row">
                  <td data-label={t("earn.task")}>{c.task_id}</td>
                  <td data-label={t("earn.epoch")}>{c.epoch}</td>
                  <td data-label={t("earn.total")}>{money(c.cumulative, c.token ?? token)}</td>
                  <td data-label={t("earn.claimed")}>{money(c.claimed, c.token ?? token)}</td>
                  <td data-label={t("earn.claimable")} data-testid="claimable">
                    <strong>{money(c.claimable, c.token ?? token)}</strong>
                  </td>
                  <td>
                    <button
                      type="button"
                      disabled={!chain || busy !== null || BigInt(c.claimable) === 0n}
                      onClick={() => void send(c)}
                    >
                      {t("earn.claim", { task: c.task_id })}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
