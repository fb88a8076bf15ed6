// The validator's side: stake and unbonding on chain, standing (qualification, accuracy, rewards),
// and the review queue with the item, the task and the pre-screen report; A/R and 1–9 on the keyboard.
import { useEffect, useRef, useState } from "preact/hooks";
import { parseUnits } from "viem";
import { api } from "../api";
import {
  amount,
  balanceOf,
  chainInfo,
  erc20Abi,
  reader,
  sendAndWait,
  stakingAbi,
  tokenOf,
  type ChainInfo,
  type Token,
} from "../chain";
import type { Key, T } from "../i18n";
import type { Statement, Task } from "../types";
import { errorText, objectUrl, when } from "../util";
import { typedData, type Wallet } from "../wallet";

type Me = {
  staked: boolean;
  qualified: boolean;
  excluded: boolean;
  reputation: number;
  gold_answered: number;
  gold_correct: number;
};
type Stage = { stage?: string; name?: string; verdict?: string; score?: number | null; reasons?: string[] };
type Item = {
  assignment_id: number;
  task: Task;
  cid: string;
  download: string;
  prescreen: { outcome: string | null; reasons: string[]; stages: Stage[] };
  expires_at: string;
};
type Stake = { staked: bigint; unbonding: bigint; releaseAt: bigint };

export function Validator({ t, wallet }: { t: T; wallet: Wallet }) {
  const [me, setMe] = useState<Me | null>(null);
  const [tick, setTick] = useState(0);
  const [onChain, setOnChain] = useState<bigint | null>(null);
  const [rewards, setRewards] = useState<bigint | null>(null);
  const [token, setToken] = useState<Token | null>(null);
  useEffect(() => {
    void chainInfo().then((c) => c && tokenOf(c).then(setToken));
    void api<Statement>("GET", `/statements/${wallet.address}`).then(
      (st) =>
        setRewards(
          st.epochs
            .flatMap((e) => e.items)
            .filter((i) => i.kind === "vote")
            .reduce((sum, i) => sum + BigInt(i.amount), 0n),
        ),
      () => setRewards(null),
    );
  }, [tick]);
  useEffect(() => {
    // the node answers 403 below its minimum stake: ask only once something is staked
    if (onChain !== null && onChain > 0n) void api<Me>("GET", "/reviews/me").then(setMe, () => setMe(null));
  }, [tick, onChain]);
  const accuracy = me && me.gold_answered ? Math.round((me.gold_correct / me.gold_answered) * 100) : null;
  return (
    <section aria-labelledby="val-h">
      <h1 id="val-h">{t("nav.review")}</h1>
      <StakePanel t={t} wallet={wallet} onStake={setOnChain} onChange={() => setTick(tick + 1)} />
      <h2>{t("val.standing")}</h2>
      {me && (
        <dl data-testid="standing">
          <dt>{t("val.staked")}</dt>
          <dd>{me.staked ? t("val.yes") : t("val.no")}</dd>
          <dt>{t("val.qualified")}</dt>
          <dd>{me.excluded ? t("val.excluded") : me.qualified ? t("val.yes") : t("val.notyet")}</dd>
          <dt>{t("val.accuracy")}</dt>
          <dd>
            {accuracy === null ? "—" : `${accuracy}%`} ({t("val.gold", { n: me.gold_correct, of: me.gold_answered })})
          </dd>
          <dt>{t("val.reputation")}</dt>
          <dd>{me.reputation.toFixed(2)}</dd>
          <dt>{t("val.rewards")}</dt>
          <dd data-testid="rewards">{rewards === null ? "—" : token ? amount(rewards, token) : rewards.toString()}</dd>
        </dl>
      )}
      {me?.staked ? (
        <Queue t={t} wallet={wallet} onVoted={() => setTick((n) => n + 1)} />
      ) : (
        <p>{t("review.stakefirst")}</p>
      )}
    </section>
  );
}

function StakePanel({
  t,
  wallet,
  onStake,
  onChange,
}: {
  t: T;
  wallet: Wallet;
  onStake: (staked: bigint) => void;
  onChange: () => void;
}) {
  const [chain, setChain] = useState<ChainInfo | null>(null);
  const [token, setToken] = useState<Token | null>(null);
  const [stake, setStake] = useState<Stake | null>(null);
  const [balance, setBalance] = useState<bigint | null>(null);
  const [tokens, setTokens] = useState("10");
  const [status, setStatus] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const refresh = async (c: ChainInfo) => {
    const [s, u, r] = await reader(c).readContract({
      address: c.staking,
      abi: stakingAbi,
      functionName: "validators",
      args: [wallet.address],
    });
    setStake({ staked: s, unbonding: u, releaseAt: r });
    onStake(s);
    setBalance(await balanceOf(c, wallet.address));
  };
  useEffect(() => {
    void chainInfo().then(async (c) => {
      setChain(c);
      if (!c) return;
      setToken(await tokenOf(c));
      await refresh(c);
    });
  }, [wallet.address]);
  if (!chain) return <p>{t("req.nochain")}</p>;
  let units: bigint | null = null;
  try {
    units = token ? parseUnits(tokens.trim() || "0", token.decimals) : null;
  } catch {
    units = null;
  }
  const act = async (what: "stake" | "unbond" | "withdraw") => {
    setBusy(true);
    setStatus(t(`stake.${what}.busy` as Key));
    try {
      const client = await wallet.client(chain);
      if (what === "stake") {
        if (!units || units <= 0n) throw new Error(t("v.positive"));
        await sendAndWait(chain, client, {
          address: chain.token,
          abi: erc20Abi,
          functionName: "approve",
          args: [chain.staking, units],
        } as never);
        await sendAndWait(chain, client, { address: chain.staking, abi: stakingAbi, functionName: "stake", args: [units] } as never);
      } else if (what === "unbond") {
        if (!units || units <= 0n) throw new Error(t("v.positive"));
        await sendAndWait(chain, client, {
          address: chain.staking,
          abi: stakingAbi,
          functionName: "requestUnbond",
          args: [units],
        } as never);
      } else {
        await sendAndWait(chain, client, { address: chain.staking, abi: stakingAbi, functionName: "withdraw" } as never);
      }
      setStatus(t(`stake.${what}.done` as Key));
      await refresh(chain);
      onChange();
    } catch (err) {
      setStatus(t("stake.failed", { message: errorText(t, err) }));
    } finally {
      setBusy(false);
    }
  };
  const releasable = stake && stake.unbonding > 0n && Number(stake.releaseAt) * 1000 <= Date.now();
  return (
    <>
      <h2>{t("stake.heading")}</h2>
      {stake && token && (
        <dl data-testid="stake">
          <dt>{t("stake.staked")}</dt>
          <dd>{amount(stake.staked, token)}</dd>
          <dt>{t("stake.unbonding")}</dt>
          <dd>
            {amount(stake.unbonding, token)}
            {stake.unbonding > 0n && ` (${t("stake.release", { when: when(new Date(Number(stake.releaseAt) * 1000).toISOString(), t) })})`}
          </dd>
          <dt>{t("stake.balance")}</dt>
          <dd>{balance === null ? "—" : amount(balance, token)}</dd>
        </dl>
      )}
      <div class="field">
        <label for="stake-amount">{t("stake.amount", { symbol: token?.symbol ?? "" })}</label>
        <input
          id="stake-amount"
          inputMode="decimal"
          value={tokens}
          onInput={(e) => setTokens((e.target as HTMLInputElement).value)}
          aria-invalid={units === null || units <= 0n ? "true" : undefined}
        />
      </div>
      <div class="row">
        <button type="button" disabled={busy} onClick={() => void act("stake")}>
          {t("stake.stake")}
        </button>
        <button type="button" class="secondary" disabled={busy} onClick={() => void act("unbond")}>
          {t("stake.unbond")}
        </button>
        <button type="button" class="secondary" disabled={busy || !releasable} onClick={() => void act("withdraw")}>
          {t("stake.withdraw")}
        </button>
      </div>
      {status && (
        <p role="status" data-testid="stake-status">
          {status}
        </p>
      )}
    </>
  );
}

function Queue({ t, wallet, onVoted }: { t: T; wallet: Wallet; onVoted: () => void }) {
  const [item, setItem] = useState<Item | null>(null);
  const [empty, setEmpty] = useState(false);
  const [url, setUrl] = useState<string | null>(null);
  const [labels, setLabels] = useState<string[]>([]);
  const [status, setStatus] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [voted, setVoted] = useState(0);
  const heading = useRef<HTMLHeadingElement>(null);
  const next = async () => {
    try {
      const got = await api<Item | null>("GET", "/reviews/next");
      setItem(got);
      setEmpty(!got);
      setLabels([]);
      setUrl(null);
      if (got) {
        setUrl(await objectUrl(got.download));
        heading.current?.focus();
      }
    } catch (err) {
      setStatus(errorText(t, err));
    }
  };
  useEffect(() => {
    void next();
  }, []);
  useEffect(() => {
    if (item) return;
    const timer = setInterval(() => void next(), 3000);
    return () => clearInterval(timer);
  }, [item]);
  const allowed = item?.task.rules.review?.labels ?? [];
  const vote = async (decision: "accept" | "reject") => {
    if (!item || busy) return;
    setBusy(true);
    try {
      const nonce = BigInt(crypto.getRandomValues(new Uint32Array(2)).reduce((a, b) => a * 2 ** 32 + b, 0));
      const chosen = allowed.filter((l) => labels.includes(l));
      const typed = await typedData("Vote", {
        validator: wallet.address,
        task_id: BigInt(item.task.id),
        assignment_id: BigInt(item.assignment_id),
        decision,
        labels: JSON.stringify(chosen),
        nonce,
      });
      const signature = await wallet.signTypedData(typed);
      await api("POST", `/reviews/${item.assignment_id}/vote`, {
        decision,
        labels: chosen,
        nonce: nonce.toString(),
        signature,
      });
      await next();
      setStatus(t(decision === "accept" ? "review.accepted" : "review.rejected"));
      setVoted((n) => n + 1); // after the next item is in view: a key pressed now acts on that one
      onVoted();
    } catch (err) {
      setStatus(errorText(t, err));
    } finally {
      setBusy(false);
    }
  };
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const target = e.target as HTMLElement;
      if (!item || e.ctrlKey || e.metaKey || e.altKey || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName)) return;
      const key = e.key.toLowerCase();
      if (key === "a") void vote("accept");
      else if (key === "r") void vote("reject");
      else if (/^[1-9]$/.test(key) && allowed[Number(key) - 1]) {
        const label = allowed[Number(key) - 1];
        setLabels((all) => (all.includes(label) ? all.filter((l) => l !== label) : [...all, label]));
      } else return;
      e.preventDefault();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [item, labels, busy]);
  return (
    <>
      <h2 id="queue-h" tabIndex={-1} ref={heading}>
        {t("review.heading")}
      </h2>
      <p>{t("review.keys")}</p>
      <p data-testid="voted">{t("review.count", { n: voted })}</p>
      {status && (
        <p role="status" data-testid="review-status">
          {status}
        </p>
      )}
      {empty && <p data-testid="queue-empty">{t("review.empty")}</p>}
      {item && (
        <div class="review" data-testid="review-item" data-assignment={item.assignment_id}>
          <figure>
            {url ? <img src={url} alt={t("review.item.alt", { task: item.task.title })} /> : <span>{t("req.loading")}</span>}
            <figcaption>
              <code class="cid">{item.cid}</code>
            </figcaption>
          </figure>
          <div>
            <h3>{item.task.title}</h3>
            <p class="desc">{item.task.description}</p>
            <h3>{t("review.report")}</h3>
            <ul class="plain" data-testid="report">
              {item.prescreen.stages.map((s) => (
                <li>
                  <strong>{s.stage ?? s.name}</strong>: {s.verdict}
                  {typeof s.score === "number" && ` (${s.score.toFixed(2)})`}
                  {s.reasons && s.reasons.length > 0 && ` — ${s.reasons.join("; ")}`}
                </li>
              ))}
              {item.prescreen.stages.length === 0 && <li>{t("review.report.none")}</li>}
            </ul>
            {allowed.length > 0 && (
              <fieldset>
                <legend>{t("review.labels")}</legend>
                {allowed.map((l, i) => (
                  <label class="check">
                    <input
                      type="checkbox"
                      checked={labels.includes(l)}
                      onChange={() => setLabels((all) => (all.includes(l) ? all.filter((x) => x !== l) : [...all, l]))}
                    />
                    {i < 9 ? `${i + 1}. ` : ""}
                    {l}
                  </label>
                ))}
              </fieldset>
            )}
            <div class="row">
              <button type="button" disabled={busy} onClick={() => void vote("accept")} aria-keyshortcuts="A">
                {t("review.accept")} (A)
              </button>
              <button type="button" class="danger" disabled={busy} onClick={() => void vote("reject")} aria-keyshortcuts="R">
                {t("review.reject")} (R)
              </button>
            </div>
            <p>{t("review.expires", { when: when(item.expires_at, t) })}</p>
          </div>
        </div>
      )}
    </>
  );
}
