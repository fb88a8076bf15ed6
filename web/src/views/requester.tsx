// The requester's side: their tasks, funding one on chain in the task's token (approve + deposit), and
// its dashboard (amounts in the task's token: its decimals and symbol come with the task from the API):
// progress, acceptance, rejections by cause, spend, gold items, a sample gallery, dataset versions.
import { useEffect, useState } from "preact/hooks";
import { parseUnits, type Address } from "viem";
import { api, apiAll, upload } from "../api";
import { amount, chainInfo, fundTask, tokenOf, type ChainInfo, type Token } from "../chain";
import { usePoll } from "../hooks";
import type { Key, T } from "../i18n";
import type { Dashboard as Dash, Spend, Task } from "../types";
import { errorText, objectUrl } from "../util";
import type { Wallet } from "../wallet";

type Version = { id: number; number: number; item_count: number; manifest_cid: string; anchor: { status: string } };
type Dataset = { id: number; name: string; query: { task_ids?: number[] }; versions: Version[] };
type Gold = { id: number; cid: string; answer: string };

export function MyTasks({ t, wallet, open }: { t: T; wallet: Wallet; open: number | null }) {
  const [tasks, setTasks] = useState<Task[] | null>(null);
  const [picked, setPicked] = useState<number | null>(open);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    apiAll<Task>("/tasks").then(
      (all) => setTasks(all.filter((x) => x.requester.toLowerCase() === wallet.address.toLowerCase())),
      (err) => setError(errorText(t, err)),
    );
  }, [wallet.address, picked]);
  const task = tasks?.find((x) => x.id === picked);
  if (task) return <Dashboard t={t} wallet={wallet} task={task} onBack={() => setPicked(null)} />;
  return (
    <section aria-labelledby="my-tasks-h">
      <h1 id="my-tasks-h">{t("nav.requester")}</h1>
      {error && <p role="alert" class="error">{error}</p>}
      {tasks && tasks.length === 0 && <p>{t("req.none")}</p>}
      <ul class="cards">
        {(tasks ?? []).map((x) => (
          <li class="card">
            <h2>{x.title}</h2>
            <p>
              {t("req.count", { n: x.submission_count, target: x.target_count })} · {t(`status.${x.status}` as Key)}
            </p>
            <button type="button" onClick={() => setPicked(x.id)}>
              {t("req.open", { title: x.title })}
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}

function Dashboard({ t, wallet, task, onBack }: { t: T; wallet: Wallet; task: Task; onBack: () => void }) {
  const [chain, setChain] = useState<ChainInfo | null>(null);
  const [token, setToken] = useState<Token | null>(null);
  const [dash, setDash] = useState<Dash | null>(null);
  const [spend, setSpend] = useState<Spend | "unfunded" | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  const [notice, setNotice] = useState<string | null>(null);
  useEffect(() => {
    void chainInfo().then((c) => {
      setChain(c);
      // a task made before tasks named their token pays in the node's
      if (task.token) setToken(task.token);
      else if (c) void tokenOf(c).then(setToken);
    });
  }, [task.id]);
  usePoll(
    (live) =>
      api<Dash>("GET", `/tasks/${task.id}/dashboard`).then(
        (d) => {
          if (!live()) return;
          setDash(d);
          if (!d.funded) setSpend("unfunded");
          else
            api<Spend>("GET", `/tasks/${task.id}/spend`).then(
              (s) => live() && setSpend(s),
              (err) => live() && setError(errorText(t, err)),
            );
        },
        (err) => live() && setError(errorText(t, err)),
      ),
    3000,
    [task.id, tick],
  );
  const money = (units: string | null) => (units === null ? "—" : token ? amount(units, token) : units);
  return (
    <section aria-labelledby="dash-h">
      <button type="button" class="secondary" onClick={onBack}>
        {t("req.back")}
      </button>
      <h1 id="dash-h">{t("req.heading", { title: task.title })}</h1>
      {error && <p role="alert" class="error">{error}</p>}

      <h2>{t("req.funding")}</h2>
      {spend === "unfunded" && chain && (
        <Fund
          t={t}
          wallet={wallet}
          task={task}
          chain={chain}
          token={token}
          onFunded={(text) => {
            setNotice(text);
            setTick(tick + 1);
          }}
        />
      )}
      {spend === "unfunded" && !chain && <p>{t("req.nochain")}</p>}
      {notice && (
        <p role="status" class="ok" data-testid="fund-status">
          {notice}
        </p>
      )}
      {spend && spend !== "unfunded" && (
        <dl data-testid="spend">
          <dt>{t("req.escrow")}</dt>
          <dd>{spend.escrow_task_id}</dd>
          <dt>{t("req.funded")}</dt>
          <dd>{money(spend.funded)}</dd>
          <dt>{t("req.posted")}</dt>
          <dd>{money(spend.posted)}</dd>
          <dt>{t("req.paid")}</dt>
          <dd>{money(spend.paid)}</dd>
          <dt>{t("req.remaining")}</dt>
          <dd>{money(spend.remaining)}</dd>
          <dt>{t("req.costper")}</dt>
          <dd>{money(spend.cost_per_item)}</dd>
        </dl>
      )}

      {dash && (
        <>
          <h2>{t("req.progress")}</h2>
          <progress max={dash.target} value={dash.accepted} aria-label={t("req.progress")} />
          <p data-testid="progress">
            {t("req.progress.text", {
              accepted: dash.accepted,
              target: dash.target,
              percent: Math.round(dash.progress * 100),
            })}
          </p>
          <dl data-testid="states">
            <dt>{t("req.submissions")}</dt>
            <dd>{dash.submissions}</dd>
            {Object.entries(dash.by_state).map(([state, n]) => (
              <>
                <dt>{t(`state.${state}` as Key)}</dt>
                <dd>{n}</dd>
              </>
            ))}
            <dt>{t("req.rate")}</dt>
            <dd data-testid="acceptance-rate">
              {dash.acceptance_rate === null ? "—" : `${Math.round(dash.acceptance_rate * 100)}%`}
            </dd>
          </dl>
          <h2 id="causes-h">{t("req.causes")}</h2>
          <Causes t={t} causes={dash.rejections_by_cause} />
          <h2>{t("req.samples")}</h2>
          <Gallery t={t} samples={dash.samples} />
        </>
      )}
      <GoldItems t={t} task={task} />
      <Datasets t={t} task={task} />
    </section>
  );
}

function Fund({
  t,
  wallet,
  task,
  chain,
  token,
  onFunded,
}: {
  t: T;
  wallet: Wallet;
  task: Task;
  chain: ChainInfo;
  token: Token | null;
  onFunded: (notice: string) => void;
}) {
  const suggested = token ? (BigInt(task.reward_per_item) * BigInt(task.target_count)).toString() : "";
  const [tokens, setTokens] = useState("");
  const [days, setDays] = useState("30");
  const [step, setStep] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  let units: bigint | null = null;
  let invalid: string | null = null;
  if (token && tokens.trim()) {
    try {
      units = parseUnits(tokens.trim(), token.decimals);
      if (units <= 0n) invalid = t("v.positive");
    } catch {
      invalid = t("v.tokens", { n: token.decimals });
    }
  }
  const badDays = !/^\d+$/.test(days.trim()) || Number(days) < 1 || Number(days) > 365;
  const go = async (e: Event) => {
    e.preventDefault();
    if (!units || invalid || badDays) {
      setProblem(invalid ?? (badDays ? t("v.days") : t("v.required")));
      return;
    }
    setProblem(null);
    try {
      const client = await wallet.client(chain);
      const deadline = BigInt(Math.floor(new Date(task.deadline).getTime() / 1000));
      const erc20 = (task.token?.address ?? chain.token) as Address;
      const escrowTaskId = await fundTask(chain, client, erc20, units, deadline, BigInt(Number(days) * 86_400), (s) =>
        setStep(t(s === "approve" ? "fund.approving" : "fund.depositing")),
      );
      setStep(t("fund.linking"));
      await api("POST", `/tasks/${task.id}/escrow`, { escrow_task_id: Number(escrowTaskId) });
      setStep(null);
      onFunded(t("fund.done", { id: String(escrowTaskId) }));
    } catch (err) {
      setStep(null);
      setProblem(t("fund.failed", { message: errorText(t, err) }));
    }
  };
  return (
    <form onSubmit={(e) => void go(e)} noValidate>
      <p>{t("fund.intro")}</p>
      {token && suggested && <p>{t("fund.suggest", { amount: amount(suggested, token) })}</p>}
      <div class="field">
        <label for="fund-amount">{t("fund.amount", { symbol: token?.symbol ?? "" })}</label>
        <input
          id="fund-amount"
          inputMode="decimal"
          value={tokens}
          onInput={(e) => setTokens((e.target as HTMLInputElement).value)}
          aria-invalid={invalid ? "true" : undefined}
          aria-describedby={invalid ? "fund-amount-e" : undefined}
        />
        {invalid && (
          <p id="fund-amount-e" class="error">
            {invalid}
          </p>
        )}
      </div>
      <div class="field">
        <label for="fund-days">{t("fund.window")}</label>
        <input
          id="fund-days"
          inputMode="numeric"
          value={days}
          onInput={(e) => setDays((e.target as HTMLInputElement).value)}
          aria-invalid={badDays ? "true" : undefined}
        />
      </div>
      <button type="submit">{t("fund.go")}</button>
      {step && (
        <p role="status" data-testid="fund-status">
          {step}
        </p>
      )}
      {problem && (
        <p role="alert" class="error">
          {problem}
        </p>
      )}
    </form>
  );
}

/** Rejections by cause as a bar chart; the numbers are text too, for screen readers and small screens. */
function Causes({ t, causes }: { t: T; causes: Record<string, number> }) {
  const entries = Object.entries(causes);
  if (!entries.length) return <p>{t("req.causes.none")}</p>;
  const most = Math.max(...entries.map(([, n]) => n));
  return (
    <ul class="plain chart" aria-labelledby="causes-h" data-testid="causes">
      {entries.map(([cause, n]) => {
        const label = t(`cause.${cause}` as Key);
        return (
          <li>
            <span class="bar-label">{label.startsWith("cause.") ? cause : label}</span>
            <span class="bar" style={{ width: `${Math.max(4, (n / most) * 100)}%` }} aria-hidden="true" />
            <span class="bar-n">{n}</span>
          </li>
        );
      })}
    </ul>
  );
}

function Gallery({ t, samples }: { t: T; samples: Dash["samples"] }) {
  const [urls, setUrls] = useState<Record<number, string>>({});
  const key = samples.map((s) => s.submission_id).join(",");
  useEffect(() => {
    let live = true;
    for (const s of samples) {
      if (urls[s.submission_id]) continue;
      objectUrl(s.content).then(
        (u) => live && setUrls((all) => ({ ...all, [s.submission_id]: u })),
        () => undefined,
      );
    }
    return () => {
      live = false;
    };
  }, [key]);
  if (!samples.length) return <p>{t("req.samples.none")}</p>;
  return (
    <ul class="gallery" data-testid="gallery">
      {samples.map((s) => (
        <li>
          {urls[s.submission_id] ? (
            <img src={urls[s.submission_id]} alt={t("req.sample.alt", { id: s.submission_id })} />
          ) : (
            <span>{t("req.loading")}</span>
          )}
        </li>
      ))}
    </ul>
  );
}

function GoldItems({ t, task }: { t: T; task: Task }) {
  const [gold, setGold] = useState<Gold[]>([]);
  const [file, setFile] = useState<File | null>(null);
  const [answer, setAnswer] = useState("accept");
  const [status, setStatus] = useState<string | null>(null);
  const load = () => void apiAll<Gold>(`/tasks/${task.id}/gold`).then(setGold, () => undefined);
  useEffect(load, [task.id]);
  const add = async (e: Event) => {
    e.preventDefault();
    if (!file) {
      setStatus(t("gold.need"));
      return;
    }
    try {
      setStatus(t("gold.uploading"));
      const blob = await upload(file, () => undefined, () => undefined);
      await api("POST", `/tasks/${task.id}/gold`, { cid: blob.cid, answer });
      setStatus(t("gold.added"));
      load();
    } catch (err) {
      setStatus(errorText(t, err));
    }
  };
  return (
    <>
      <h2>{t("gold.heading")}</h2>
      <p>{t("gold.intro", { n: gold.length })}</p>
      <form class="row" onSubmit={(e) => void add(e)}>
        <label>
          {t("gold.file")}
          <input type="file" onChange={(e) => setFile((e.target as HTMLInputElement).files?.[0] ?? null)} />
        </label>
        <label>
          {t("gold.answer")}
          <select value={answer} onChange={(e) => setAnswer((e.target as HTMLSelectElement).value)}>
            <option value="accept">{t("review.accept")}</option>
            <option value="reject">{t("review.reject")}</option>
          </select>
        </label>
        <button type="submit">{t("gold.add")}</button>
      </form>
      {status && (
        <p role="status" data-testid="gold-status">
          {status}
        </p>
      )}
    </>
  );
}

function Datasets({ t, task }: { t: T; task: Task }) {
  const [sets, setSets] = useState<Dataset[]>([]);
  const [status, setStatus] = useState<string | null>(null);
  const load = () =>
    void apiAll<Dataset>("/datasets").then(
      (all) => setSets(all.filter((d) => d.query.task_ids?.includes(task.id))),
      () => undefined,
    );
  usePoll(load, 4000, [task.id]);
  const freeze = async () => {
    setStatus(t("ds.freezing"));
    try {
      const ds = sets[0] ?? (await api<Dataset>("POST", "/datasets", { name: task.title, query: { task_ids: [task.id] } }));
      const v = await api<Version>("POST", `/datasets/${ds.id}/versions`);
      setStatus(t("ds.frozen", { n: v.number, items: v.item_count }));
      load();
    } catch (err) {
      setStatus(errorText(t, err));
    }
  };
  const versions = sets.flatMap((d) => d.versions.map((v) => ({ d, v })));
  return (
    <>
      <h2>{t("ds.heading")}</h2>
      <button type="button" onClick={() => void freeze()}>
        {t("ds.freeze")}
      </button>
      {status && (
        <p role="status" data-testid="ds-status">
          {status}
        </p>
      )}
      {versions.length === 0 && <p>{t("ds.none")}</p>}
      {versions.length > 0 && (
        <div class="scroll">
          <table class="stack" data-testid="versions">
            <thead>
              <tr>
                <th scope="col">{t("ds.version")}</th>
                <th scope="col">{t("ds.items")}</th>
                <th scope="col">{t("ds.anchor")}</th>
                <th scope="col">{t("ds.downloads")}</th>
              </tr>
            </thead>
            <tbody>
              {versions.map(({ d, v }) => (
                <tr>
                  <td data-label={t("ds.version")}>
                    {d.name} v{v.number}
                  </td>
                  <td data-label={t("ds.items")}>{v.item_count}</td>
                  <td data-label={t("ds.anchor")}>{t(`anchor.${v.anchor.status}` as Key)}</td>
                  <td data-label={t("ds.downloads")} class="links">
                    <a href={`/v1/dataset-versions/${v.id}/manifest`} download={`manifest-v${v.number}.json`}>
                      {t("ds.manifest")}
                    </a>
                    {(["datasheet", "croissant", "parquet"] as const).map((f) => (
                      <a href={`/v1/dataset-versions/${v.id}/export/${f}`} download>
                        {t(`ds.${f}` as Key)}
                      </a>
                    ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <p>
        {t("ds.cli")} <code>datacoop dataset export VERSION_ID --format webdataset --out DIR</code>
      </p>
    </>
  );
}
