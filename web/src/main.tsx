import { render } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { ApiFailure, api, setToken, upload, UPLOAD_TRIES } from "./api";
import { usePoll } from "./hooks";
import { initialLang, LANGS, translator, type Key, type Lang, type T } from "./i18n";
import {
  connectInjected,
  devAccounts,
  devWallet,
  discovery,
  signIn,
  typedData,
  type DevAccount,
  type Injected,
  type Wallet,
} from "./wallet";
import "./style.css";
import { parseUnits } from "viem";
import { amount, chainInfo, tokenOf, type Token } from "./chain";
import type { Submission, Task } from "./types";
import { errorText, when } from "./util";
import { Earnings } from "./views/earnings";
import { MyTasks } from "./views/requester";
import { Validator } from "./views/validator";

type View = "tasks" | "mine" | "earnings" | "review" | "requester" | "create";

function App() {
  const [lang, setLang] = useState<Lang>(initialLang);
  const t = useMemo(() => translator(lang), [lang]);
  const [wallet, setWallet] = useState<Wallet | null>(null);
  const [view, setView] = useState<View>("tasks");
  const [task, setTask] = useState<Task | null>(null);
  const [opened, setOpened] = useState<number | null>(null);
  useEffect(() => {
    document.documentElement.lang = lang;
    localStorage.setItem("datacoop.lang", lang);
  }, [lang]);
  const go = (v: View) => {
    setTask(null);
    setOpened(null);
    setView(v);
  };
  const nav: [View, Key][] = [
    ["tasks", "nav.tasks"],
    ["mine", "nav.mine"],
    ["earnings", "nav.earnings"],
    ["review", "nav.review"],
    ["requester", "nav.requester"],
    ["create", "nav.create"],
  ];
  return (
    <>
      <a class="skip" href="#main">
        {t("app.skip")}
      </a>
      <header>
        <div class="brand">
          <strong>{t("app.title")}</strong> <span>{t("app.tagline")}</span>
        </div>
        <label class="lang">
          {t("lang.label")}{" "}
          <select value={lang} onChange={(e) => setLang((e.target as HTMLSelectElement).value as Lang)}>
            {LANGS.map((l) => (
              <option value={l.code}>{l.name}</option>
            ))}
          </select>
        </label>
        {wallet && (
          <div class="who">
            {wallet.dev && <span class="devbadge">{t("signin.dev.badge")}</span>}
            <span data-testid="signed-in">{t("signin.as", { address: wallet.address })}</span>
            <button
              type="button"
              onClick={() => {
                void api("POST", "/auth/logout").catch(() => undefined);
                setToken(null);
                setWallet(null);
              }}
            >
              {t("signin.out")}
            </button>
          </div>
        )}
      </header>
      {wallet && (
        <nav aria-label={t("nav.main")}>
          {nav.map(([v, key]) => (
            <button type="button" aria-current={view === v && !task ? "page" : undefined} onClick={() => go(v)}>
              {t(key)}
            </button>
          ))}
        </nav>
      )}
      <main id="main" tabIndex={-1}>
        {!wallet && <SignIn t={t} onSignedIn={setWallet} />}
        {wallet && task && <Contribute t={t} task={task} wallet={wallet} onDone={() => go("mine")} />}
        {wallet && !task && view === "tasks" && <Tasks t={t} onPick={setTask} />}
        {wallet && !task && view === "mine" && <Mine t={t} />}
        {wallet && !task && view === "earnings" && <Earnings t={t} wallet={wallet} />}
        {wallet && !task && view === "review" && <Validator t={t} wallet={wallet} />}
        {wallet && !task && view === "requester" && <MyTasks key={opened ?? 0} t={t} wallet={wallet} open={opened} />}
        {wallet && !task && view === "create" && (
          <CreateTask
            t={t}
            onCreated={(id) => {
              setOpened(id);
              setView("requester");
            }}
          />
        )}
      </main>
    </>
  );
}

function SignIn({ t, onSignedIn }: { t: T; onSignedIn: (w: Wallet) => void }) {
  const [injected, setInjected] = useState<readonly Injected[]>(discovery.getProviders());
  const [dev, setDev] = useState<DevAccount[]>([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => discovery.subscribe((providers) => setInjected(providers)), []);
  useEffect(() => {
    void devAccounts().then(setDev);
  }, []);
  const use = async (connect: () => Promise<Wallet>) => {
    setBusy(true);
    setError(null);
    try {
      const wallet = await connect();
      const session = await signIn(wallet);
      setToken(session.token);
      onSignedIn(wallet);
    } catch (err) {
      setError(t("signin.failed", { message: errorText(t, err) }));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-labelledby="signin-h">
      <h1 id="signin-h">{t("signin.heading")}</h1>
      <p>{t("signin.intro")}</p>
      <h2>{t("signin.wallets")}</h2>
      {injected.length === 0 && <p>{t("signin.none")}</p>}
      <ul class="plain">
        {injected.map((d) => (
          <li>
            <button type="button" disabled={busy} onClick={() => void use(() => connectInjected(d))}>
              <img src={d.info.icon} alt="" width={20} height={20} /> {t("signin.use", { name: d.info.name })}
            </button>
          </li>
        ))}
      </ul>
      {dev.length > 0 && (
        <div class="dev" role="region" aria-labelledby="dev-h">
          <h2 id="dev-h">{t("signin.dev.heading")}</h2>
          <p>{t("signin.dev.warning")}</p>
          <ul class="plain">
            {dev.map((a, i) => (
              <li>
                <button type="button" disabled={busy} onClick={() => void use(async () => devWallet(a, i))}>
                  {t("signin.dev.use", { n: i })} <code>{a.address}</code>
                </button>
              </li>
            ))}
          </ul>
        </div>
      )}
      {busy && <p role="status">{t("signin.busy")}</p>}
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
    </section>
  );
}

function Tasks({ t, onPick }: { t: T; onPick: (task: Task) => void }) {
  const [tasks, setTasks] = useState<Task[] | null>(null);
  const [query, setQuery] = useState("");
  const [token, setTokenInfo] = useState<Token | null>(null);
  useEffect(() => {
    void chainInfo().then((c) => c && tokenOf(c).then(setTokenInfo));
  }, []);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api<Task[]>("GET", "/tasks?status=open").then(setTasks, (err) => setError(errorText(t, err)));
  }, []);
  // each task pays in its own token; one made before tasks named theirs pays in the node's
  const rewardOf = (x: Task) => {
    const unit = x.token ?? token;
    return unit ? amount(x.reward_per_item, unit) : x.reward_per_item;
  };
  const shown = (tasks ?? []).filter((x) => `${x.title} ${x.description}`.toLowerCase().includes(query.toLowerCase()));
  return (
    <section aria-labelledby="tasks-h">
      <h1 id="tasks-h">{t("nav.tasks")}</h1>
      <label>
        {t("tasks.search")}
        <input type="search" value={query} onInput={(e) => setQuery((e.target as HTMLInputElement).value)} />
      </label>
      {error && <p role="alert" class="error">{error}</p>}
      {tasks && shown.length === 0 && <p>{t("tasks.empty")}</p>}
      <ul class="cards">
        {shown.map((x) => (
          <li class="card">
            <h2>{x.title}</h2>
            <p class="desc">{x.description}</p>
            <dl>
              <dt>{t("tasks.modality")}</dt>
              <dd>{t(`modality.${x.modality}` as Key)}</dd>
              <dt>{t("tasks.reward")}</dt>
              <dd>{rewardOf(x)}</dd>
              <dt>{t("tasks.deadline")}</dt>
              <dd>{when(x.deadline, t)}</dd>
              <dt>{t("tasks.countries")}</dt>
              <dd>{x.allowed_jurisdictions.length ? x.allowed_jurisdictions.join(", ") : t("tasks.anywhere")}</dd>
              <dt>{t("tasks.progress")}</dt>
              <dd>
                {x.submission_count} / {x.target_count}
              </dd>
            </dl>
            <button type="button" onClick={() => onPick(x)}>
              {t("tasks.contribute")}
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}

type FileState = { file: File; status: string; progress: number; failed: boolean; done: boolean };

function Contribute({ t, task, wallet, onDone }: { t: T; task: Task; wallet: Wallet; onDone: () => void }) {
  const [files, setFiles] = useState<FileState[]>([]);
  const [country, setCountry] = useState(task.allowed_jurisdictions[0] ?? "");
  const [agreed, setAgreed] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), []);
  const patch = (i: number, change: Partial<FileState>) =>
    setFiles((all) => all.map((f, j) => (j === i ? { ...f, ...change } : f)));

  const send = async (i: number, file: File) => {
    patch(i, { failed: false, status: t("submit.file.uploading", { percent: 0 }), progress: 0 });
    try {
      const blob = await upload(
        file,
        (fraction) => patch(i, { progress: fraction, status: t("submit.file.uploading", { percent: Math.round(fraction * 100) }) }),
        (attempt) => patch(i, { status: t("submit.file.retrying", { attempt, max: UPLOAD_TRIES }) }),
      );
      patch(i, { progress: 1, status: t("submit.file.signing") });
      const nonce = BigInt(crypto.getRandomValues(new Uint32Array(2)).reduce((a, b) => a * 2 ** 32 + b, 0));
      const deadline = BigInt(Math.floor(Date.now() / 1000) + 3600);
      const jurisdiction = country.trim().toUpperCase();
      const typed = await typedData("Submission", {
        contributor: wallet.address,
        task_id: BigInt(task.id),
        cid: blob.cid,
        consent_hash: task.consent_hash,
        jurisdiction,
        nonce,
        deadline,
      });
      const signature = await wallet.signTypedData(typed);
      const made = await api<Submission>("POST", `/tasks/${task.id}/submissions`, {
        cid: blob.cid,
        consent_hash: task.consent_hash,
        jurisdiction,
        nonce: nonce.toString(),
        deadline: Number(deadline),
        signature,
      });
      patch(i, { done: true, status: t("submit.file.done", { id: made.id }) });
    } catch (err) {
      patch(i, { failed: true, status: t("submit.file.failed", { message: errorText(t, err) }) });
    }
  };

  const start = (e: Event) => {
    e.preventDefault();
    if (!files.length || !agreed) {
      setProblem(t("submit.need"));
      return;
    }
    setProblem(null);
    files.forEach((f, i) => {
      if (!f.done) void send(i, f.file);
    });
  };

  return (
    <section aria-labelledby="contrib-h">
      <h1 id="contrib-h" tabIndex={-1} ref={heading}>
        {t("submit.heading", { title: task.title })}
      </h1>
      <form onSubmit={start}>
        <label>
          {t("submit.files")}
          <input
            type="file"
            multiple
            onChange={(e) => {
              const list = Array.from((e.target as HTMLInputElement).files ?? []);
              setFiles(list.map((file) => ({ file, status: t("submit.file.waiting"), progress: 0, failed: false, done: false })));
            }}
          />
        </label>
        <label>
          {t("submit.jurisdiction")}
          <input value={country} maxLength={2} required onInput={(e) => setCountry((e.target as HTMLInputElement).value)} />
        </label>
        <h2>{t("submit.consent.heading")}</h2>
        <p>{t("submit.consent.intro")}</p>
        <div class="consent" tabIndex={0} data-testid="consent">
          {task.consent_text}
        </div>
        <label class="check">
          <input type="checkbox" checked={agreed} onChange={(e) => setAgreed((e.target as HTMLInputElement).checked)} />
          {t("submit.consent.agree")}
        </label>
        {problem && <p role="alert" class="error">{problem}</p>}
        <div class="row">
          <button type="submit">{t("submit.go")}</button>
          <button type="button" class="secondary" onClick={onDone}>
            {t("nav.mine")}
          </button>
        </div>
      </form>
      <ul class="plain files">
        {files.map((f, i) => (
          <li>
            <span class="name">{f.file.name}</span>
            <progress max={1} value={f.progress} aria-label={t("submit.progress", { name: f.file.name })} />
            <span role="status" data-testid="file-status">{f.status}</span>
            {f.failed && (
              <button type="button" onClick={() => void send(i, f.file)}>
                {t("submit.file.retry", { name: f.file.name })}
              </button>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}

/** The pre-screen's and review's reasons in plain words: known codes translated, the rest as the node wrote them. */
function reasons(t: T, s: Submission): string[] {
  const out: string[] = [];
  const detail = s.details as { reasons?: unknown; prescreen?: { reasons?: unknown } };
  const listed = [detail.reasons, detail.prescreen?.reasons].find(Array.isArray) as string[] | undefined;
  const history = s.history ?? [];
  const last = history[history.length - 1];
  for (const r of listed ?? (last?.reason ? [last.reason] : [])) {
    const key = `reason.${r}` as Key;
    const text = t(key);
    out.push(text === key || text.includes(`{`) ? t("reason.generic", { reason: r }) : text);
  }
  return out;
}

function Mine({ t }: { t: T }) {
  const [subs, setSubs] = useState<Submission[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  usePoll(
    (live) =>
      api<Submission[]>("GET", "/submissions").then(
        (s) => live() && (setSubs(s), setError(null)),
        (err) => live() && setError(errorText(t, err)),
      ),
    2000,
    [t],
  );
  return (
    <section aria-labelledby="mine-h">
      <h1 id="mine-h">{t("mine.heading")}</h1>
      <p>{t("mine.live")}</p>
      {error && <p role="alert" class="error">{error}</p>}
      {subs && subs.length === 0 && <p>{t("mine.empty")}</p>}
      {subs && subs.length > 0 && (
        <div class="scroll">
          <table class="stack">
            <thead>
              <tr>
                <th scope="col">{t("mine.task")}</th>
                <th scope="col">{t("mine.file")}</th>
                <th scope="col">{t("mine.state")}</th>
                <th scope="col">{t("mine.reasons")}</th>
                <th scope="col">{t("mine.when")}</th>
              </tr>
            </thead>
            <tbody aria-live="polite">
              {subs.map((s) => (
                <tr data-testid="submission" data-state={s.state}>
                  <td data-label={t("mine.task")}>{s.task_id}</td>
                  <td data-label={t("mine.file")}>
                    <code class="cid">{s.cid}</code>
                  </td>
                  <td data-label={t("mine.state")}>
                    <span class={`state ${s.state}`}>{t(`state.${s.state}` as Key)}</span>
                  </td>
                  <td data-label={t("mine.reasons")} data-testid="reasons">
                    {reasons(t, s).map((r) => (
                      <div>{r}</div>
                    ))}
                  </td>
                  <td data-label={t("mine.when")}>{when(s.created_at, t)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

type Form = {
  title: string;
  description: string;
  modality: string;
  reward_per_item: string;
  target_count: string;
  deadline: string;
  consent_text: string;
  licence: string;
  allowed_jurisdictions: string;
  k: string;
  labels: string;
};

function localIn(days: number): string {
  const d = new Date(Date.now() + days * 86_400_000);
  d.setMinutes(d.getMinutes() - d.getTimezoneOffset());
  return d.toISOString().slice(0, 16);
}

/** The API's limits (schemas.TaskCreate), checked as the requester types. */
function check(t: T, f: Form, decimals: number): Partial<Record<keyof Form, string>> {
  const e: Partial<Record<keyof Form, string>> = {};
  const text = (k: keyof Form, min: number, max: number) => {
    const v = f[k].trim();
    if (!v) e[k] = t("v.required");
    else if (v.length < min) e[k] = t("v.min", { n: min });
    else if (v.length > max) e[k] = t("v.max", { n: max });
  };
  text("title", 3, 200);
  text("description", 1, 20_000);
  text("consent_text", 1, 20_000);
  text("licence", 1, 200);
  if (!/^\d+(\.\d+)?$/.test(f.reward_per_item.trim())) e.reward_per_item = t("v.tokens", { n: decimals });
  else if ((f.reward_per_item.split(".")[1] ?? "").length > decimals) e.reward_per_item = t("v.tokens", { n: decimals });
  if (!/^\d+$/.test(f.target_count.trim()) || Number(f.target_count) < 1) e.target_count = t("v.int", { n: 1 });
  else if (Number(f.target_count) > 10_000_000) e.target_count = t("v.intmax", { n: 10_000_000 });
  if (!f.deadline) e.deadline = t("v.required");
  else if (new Date(f.deadline).getTime() <= Date.now()) e.deadline = t("v.future");
  if (f.allowed_jurisdictions.trim() && !/^\s*[A-Za-z]{2}(\s*,\s*[A-Za-z]{2})*\s*$/.test(f.allowed_jurisdictions))
    e.allowed_jurisdictions = t("v.countries");
  if (!/^\d+$/.test(f.k.trim()) || Number(f.k) < 1) e.k = t("v.int", { n: 1 });
  else if (Number(f.k) > 25) e.k = t("v.intmax", { n: 25 });
  if (f.labels.split(",").some((l) => l.trim().length > 64)) e.labels = t("v.max", { n: 64 });
  return e;
}

function CreateTask({ t, onCreated }: { t: T; onCreated: (id: number) => void }) {
  const [form, setForm] = useState<Form>({
    title: "",
    description: "",
    modality: "image",
    reward_per_item: "1",
    target_count: "100",
    deadline: localIn(30),
    consent_text: "",
    licence: "CC-BY-4.0",
    allowed_jurisdictions: "",
    k: "3",
    labels: "",
  });
  const [touched, setTouched] = useState<Set<keyof Form>>(new Set());
  const [server, setServer] = useState<{ field: string | null; message: string } | null>(null);
  const [done, setDone] = useState<string | null>(null);
  // the task pays in the node's token (the form names no other); without a chain the node records
  // none and takes base units, so the typed tokens are converted here at the decimals shown
  const [token, setTokenInfo] = useState<Token>({ symbol: "", decimals: 18 });
  const [onChain, setOnChain] = useState(false);
  useEffect(() => {
    void chainInfo().then((c) => {
      setOnChain(c !== null);
      if (c) void tokenOf(c).then(setTokenInfo);
    });
  }, []);
  const errors = check(t, form, token.decimals);
  const fieldError = (k: keyof Form) =>
    (touched.has(k) ? errors[k] : undefined) ?? (server?.field === k ? server.message : undefined);
  const set = (k: keyof Form) => (e: Event) => {
    setForm({ ...form, [k]: (e.target as HTMLInputElement).value });
    setTouched(new Set(touched).add(k));
    if (server?.field === k) setServer(null);
  };
  const submit = async (e: Event) => {
    e.preventDefault();
    setTouched(new Set(Object.keys(form) as (keyof Form)[]));
    setDone(null);
    if (Object.keys(errors).length) {
      setServer({ field: null, message: t("create.fix") });
      return;
    }
    try {
      const made = await api<Task>("POST", "/tasks", {
        title: form.title.trim(),
        description: form.description.trim(),
        modality: form.modality,
        // on a chain the node converts the typed tokens with the token's own decimals (exact, checked)
        ...(onChain
          ? { reward: form.reward_per_item.trim() }
          : { reward_per_item: parseUnits(form.reward_per_item.trim(), token.decimals).toString() }),
        target_count: Number(form.target_count),
        deadline: new Date(form.deadline).toISOString(),
        consent_text: form.consent_text.trim(),
        licence: form.licence.trim(),
        allowed_jurisdictions: form.allowed_jurisdictions
          .split(",")
          .map((c) => c.trim().toUpperCase())
          .filter(Boolean),
        rules: {
          review: {
            k: Number(form.k),
            max_votes: Math.max(7, Number(form.k)),
            labels: form.labels
              .split(",")
              .map((l) => l.trim())
              .filter(Boolean),
          },
        },
      });
      setServer(null);
      setDone(t("create.done", { id: made.id }));
      onCreated(made.id);
    } catch (err) {
      const named = err instanceof ApiFailure ? err.error.field?.split(".")[0] ?? null : null;
      const field = named === "reward" ? "reward_per_item" : named; // the form's one reward field
      setServer({ field: field && field in form ? field : null, message: errorText(t, err) });
    }
  };
  const input = (k: keyof Form, label: Key, props: Record<string, unknown> = {}, area = false) => {
    const err = fieldError(k);
    const Tag = area ? "textarea" : "input";
    return (
      <div class="field">
        <label for={`f-${k}`}>{t(label)}</label>
        <Tag
          id={`f-${k}`}
          name={k}
          value={form[k]}
          onInput={set(k)}
          aria-invalid={err ? "true" : undefined}
          aria-describedby={err ? `e-${k}` : undefined}
          {...props}
        />
        {err && (
          <p id={`e-${k}`} class="error" data-testid={`error-${k}`}>
            {err}
          </p>
        )}
      </div>
    );
  };
  return (
    <section aria-labelledby="create-h">
      <h1 id="create-h">{t("create.heading")}</h1>
      <p>{t("create.intro")}</p>
      <form onSubmit={(e) => void submit(e)} noValidate>
        {input("title", "create.title")}
        {input("description", "create.description", { rows: 4 }, true)}
        <div class="field">
          <label for="f-modality">{t("create.modality")}</label>
          <select id="f-modality" value={form.modality} onChange={set("modality")}>
            {["image", "text", "audio"].map((m) => (
              <option value={m}>{t(`modality.${m}` as Key)}</option>
            ))}
          </select>
        </div>
        {input("reward_per_item", "create.reward", { inputMode: "decimal" })}
        {input("target_count", "create.target", { inputMode: "numeric" })}
        {input("deadline", "create.deadline", { type: "datetime-local" })}
        {input("consent_text", "create.consent", { rows: 4 }, true)}
        {input("licence", "create.licence")}
        {input("allowed_jurisdictions", "create.countries")}
        {input("k", "create.k", { inputMode: "numeric" })}
        {input("labels", "create.labels")}
        {server && !server.field && <p role="alert" class="error">{server.message}</p>}
        <button type="submit">{t("create.go")}</button>
        {done && <p role="status" class="ok">{done}</p>}
      </form>
    </section>
  );
}

render(<App />, document.getElementById("app")!);
