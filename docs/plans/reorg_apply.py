#!/usr/bin/env python3
"""Apply the capability reorganisation (issue 18) mechanically: moves, splits, import rewrites.

Usage (from the repository root, on a clean-enough work tree):

    python reorg_apply.py MOVES.tsv [--dry-run] [--no-ruff]

The TSV has one row per current module under src/datacoop (``old<TAB>new``; same path = stays,
``-`` = an empty package face that goes away), ``new<TAB>path`` for package faces to create,
``old::Name<TAB>new`` for a top-level definition carried out of a file that is split, and the
test files that move with the code (a comma list in column 2 = the first is a move, the others copies).

Steps, each idempotent (a second run prints "nothing to do" for every step):

1. ``git mv`` every moved file (plain move for files git does not track yet, said so).
2. Create the new package faces (a one-line docstring).
3. Split the files named in ``::`` rows: each top-level definition (with the comments just above it)
   goes to its new module, which gets the old file's imports (unused ones removed by ruff afterwards),
   imports of the names it uses from the other pieces, and an ``__all__``. A split file that became a
   package's ``__init__.py`` re-exports every piece, so ``from datacoop.db.models import X`` keeps working;
   any other split file keeps what was not carried out, and its callers are rewritten name by name.
4. Rewrite imports in src/, tests/, benchmarks/, examples/, contracts/scripts: ``from A import x`` by
   module, by moved submodule (``from datacoop.services import screening`` ->
   ``from datacoop.screening import service as screening``) and by split symbol; then every dotted
   string (``datacoop.review.stakes.CachedStakes`` in docstrings, monkeypatch targets, entry points)
   and every old file path, in .py, .toml, Makefile, .md (not CHANGELOG.md), .cfg, .ini, .yml, .yaml.
5. ``ruff check --fix --select I,F401`` on the new split modules and ``--select I`` on every rewritten
   file, then ``ruff format`` on the rewritten files.

It prints every file it moves, creates, splits or rewrites.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

SRC = "src/datacoop/"
REWRITE_DIRS = ["src", "tests", "benchmarks", "examples", "contracts/scripts", "docs", ".ci"]
REWRITE_FILES = ["pyproject.toml", "Makefile", "README.md"]
TEXT_SUFFIXES = {".py", ".toml", ".md", ".cfg", ".ini", ".yml", ".yaml", ".txt", ".rst", ".mako"}
SKIP_NAMES = {"CHANGELOG.md"}

FACES = {
    "identity": "Identity: wallets as participants, SIWE sign-in and sessions, EIP-712 signatures, rate limits.",
    "tasks": "Tasks, blobs and submissions: what a requester asks for and what contributors send.",
    "review": "Community review: validators, draws, votes, gold items, consensus, appeals, stakes, slashing.",
    "settlement": "Settlement: epochs of cumulative entitlements posted on chain, and claims.",
    "exchange": "The exchange: listings, orders, compliant delivery and royalties.",
    "audit": "The audit log: append-only, hash-chained, anchored on chain.",
}
SPLIT_DOCS = {
    "src/datacoop/db/models/_base.py": "The declarative base every table shares, and its naming convention.",
    "src/datacoop/db/models/identity.py": "Tables of identity: participants, sign-in nonces, sessions, rate-limit counters.",
    "src/datacoop/db/models/tasks.py": "Tables of tasks, blobs, submissions and their state events.",
    "src/datacoop/db/models/chain.py": "Tables of the chain adapter: the transaction outbox and its writer's lease.",
    "src/datacoop/db/models/screening.py": "Tables of pre-screening: jobs, stage results, final reports.",
    "src/datacoop/db/models/settlement.py": "Tables of settlement: task funding, epochs, entitlements, earnings.",
    "src/datacoop/db/models/review.py": "Tables of community review: validators, gold, assignments, votes, outcomes.",
    "src/datacoop/db/models/datasets.py": "Tables of datasets: datasets, frozen versions, their items, withdrawals.",
    "src/datacoop/db/models/audit.py": "Tables of the audit log: entries, the head, on-chain anchors.",
    "src/datacoop/db/models/exchange.py": "Tables of the exchange: listings, orders, royalty rounds and entitlements.",
    "src/datacoop/db/models/compute.py": "Tables of compute-to-data: licences, jobs, usage, release policies, ε spent.",
    "src/datacoop/identity/schemas.py": "What sign-in takes and returns (the API's and the SDK's shapes).",
    "src/datacoop/tasks/schemas.py": "Tasks, blobs and submissions as the API, the CLI and the SDK see them.",
    "src/datacoop/screening/schemas.py": "A pre-screening report as the API and the SDK see it.",
    "src/datacoop/review/schemas.py": "Review as the API and the SDK see it: items, votes, gold, appeals, status.",
}


def log(kind: str, msg: str) -> None:
    print(f"{kind:<9} {msg}")


# ---------------------------------------------------------------- the map


class Plan:
    def __init__(self, tsv: Path) -> None:
        self.moves: dict[str, list[str]] = {}
        self.removed: list[str] = []
        self.faces: list[str] = []
        self.splits: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        for raw in tsv.read_text().splitlines():
            if not raw.strip() or raw.startswith("#"):
                continue
            old, new = raw.split("\t")
            if old == "new":
                self.faces.append(new)
            elif "::" in old:
                path, name = old.split("::")
                self.splits[path][new].append(name)
            elif new == "-":
                self.removed.append(old)
            elif old != new:
                self.moves[old] = new.split(",")

    def cover_new_files(self) -> None:
        """Files added since the TSV was written: whole-folder renames take them; elsewhere, stop."""
        renamed = {"src/datacoop/screening/": "src/datacoop/screening/", "tests/unit/screening/": "tests/unit/screening/",
                   "tests/integration/pipeline/": "tests/integration/screening/"}
        emptied = ["src/datacoop/", "src/datacoop/domain/", "tests/unit/", "tests/unit/domain/"]
        listed = set(self.moves) | set(self.removed) | {v for vs in self.moves.values() for v in vs}
        unplaced = []
        for top in ("src/datacoop", "tests"):
            for f in sorted(Path(top).rglob("*")):
                path = str(f)
                if not f.is_file() or "__pycache__" in f.parts or path in listed:
                    continue
                for old, new in renamed.items():
                    if path.startswith(old):
                        self.moves[path] = [new + path[len(old):]]
                        log("unlisted", f"{path}: follows its folder to {self.moves[path][0]}")
                if path not in self.moves and any(path.startswith(e) for e in emptied):
                    unplaced.append(path)
        if unplaced:
            sys.exit("these files are new since the move map was written; add a row for each:\n  " + "\n  ".join(unplaced))

    def where_now(self, path: str) -> str:
        return self.moves[path][0] if path in self.moves else path


def dotted(path: str) -> str:
    mod = path.removeprefix("src/").removesuffix(".py").replace("/", ".")
    return mod.removesuffix(".__init__")


def module_map(plan: Plan) -> dict[str, str]:
    """Old dotted module -> new dotted module, with the packages that vanish or are renamed."""
    m = {dotted(o): dotted(n[0]) for o, n in plan.moves.items() if o.endswith(".py")}
    m = {k: v for k, v in m.items() if k != v}
    m["datacoop.screening"] = "datacoop.screening"  # a whole package renamed
    clash = set(m.values()) & set(m)
    assert not clash, f"a new name is also an old one (would not be idempotent): {clash}"
    return m


def symbol_map(plan: Plan) -> dict[tuple[str, str], str]:
    """(old dotted module, name) -> new dotted module, for split files whose callers are rewritten."""
    out: dict[tuple[str, str], str] = {}
    for path, dests in plan.splits.items():
        if plan.where_now(path).endswith("__init__.py"):
            continue  # a package face re-exports its pieces: callers keep their imports
        for dest, names in dests.items():
            for n in names:
                out[(dotted(path), n)] = dotted(dest)
    return out


# ---------------------------------------------------------------- step 1, 2: files


def tracked(path: str) -> bool:
    r = subprocess.run(["git", "ls-files", "--error-unmatch", path], capture_output=True)
    return r.returncode == 0


def move_files(plan: Plan, dry: bool) -> None:
    done = 0
    for old, news in plan.moves.items():
        first, copies = news[0], news[1:]
        if Path(old).exists() and not Path(first).exists():
            done += 1
            log("move", f"{old} -> {first}" + ("" if tracked(old) else "  (untracked: plain move)"))
            if not dry:
                Path(first).parent.mkdir(parents=True, exist_ok=True)
                if tracked(old):
                    subprocess.run(["git", "mv", old, first], check=True)
                else:
                    shutil.move(old, first)
        for c in copies:
            if not Path(c).exists() and (Path(first).exists() or Path(old).exists()):
                done += 1
                log("copy", f"{first} -> {c}")
                if not dry:
                    Path(c).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy(first if Path(first).exists() else old, c)
    for old in plan.removed:
        if Path(old).exists():
            done += 1
            log("remove", old)
            if not dry:
                subprocess.run(["git", "rm", "-q", "-f", old], check=True)
    for face in plan.faces:
        if not Path(face).exists():
            done += 1
            pkg = Path(face).parent.name
            log("create", face)
            if not dry:
                Path(face).parent.mkdir(parents=True, exist_ok=True)
                Path(face).write_text(f'"""{FACES.get(pkg, pkg.capitalize() + ".")}"""\n')
    if not dry:
        prune_empty_dirs()
    if not done:
        log("files", "nothing to do")


def prune_empty_dirs() -> None:
    for top in ("src/datacoop", "tests"):
        for d in sorted(Path(top).rglob("*"), key=lambda p: -len(p.parts)):
            if d.is_dir() and d.name != "__pycache__":
                rest = [p for p in d.iterdir() if p.name != "__pycache__"]
                if not rest:
                    shutil.rmtree(d)
                    log("rmdir", str(d))


# ---------------------------------------------------------------- step 3: splits


def defined_names(node: ast.stmt) -> list[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [node.name]
    if isinstance(node, ast.Assign):
        return [t.id for t in node.targets if isinstance(t, ast.Name)]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return [node.target.id]
    if isinstance(node, getattr(ast, "TypeAlias", ())):
        return [node.name.id]  # type: ignore[attr-defined]
    return []


def used_names(nodes: list[ast.stmt]) -> set[str]:
    out: set[str] = set()
    for n in nodes:
        for sub in ast.walk(n):
            if isinstance(sub, ast.Name):
                out.add(sub.id)
            elif isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                out.update(re.findall(r"[A-Za-z_]\w*", sub.value))  # string annotations
    return out


def span(lines: list[str], node: ast.stmt) -> tuple[int, int]:
    """0-based [start, end) of a statement with its decorators and the comment lines just above."""
    start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])]) - 1
    while start > 0 and lines[start - 1].lstrip().startswith("#"):
        start -= 1
    return start, node.end_lineno or node.lineno


def split_file(plan: Plan, path: str, dests: dict[str, list[str]], dry: bool) -> list[str]:
    here = plan.where_now(path)
    if not Path(here).exists():
        log("split", f"{here}: missing, skipped")
        return []
    text = Path(here).read_text()
    tree = ast.parse(text)
    lines = text.splitlines(keepends=True)
    owner = {n: d for d, names in dests.items() for n in names}
    pieces: dict[str, list[ast.stmt]] = defaultdict(list)
    for node in tree.body:
        names = defined_names(node)
        if names and names[0] in owner:
            pieces[owner[names[0]]].append(node)
    if not pieces:
        log("split", f"{here}: nothing to do")
        return []
    imports = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    import_text = "".join("".join(lines[n.lineno - 1 : n.end_lineno]) for n in imports)
    import_text = import_text.replace("from __future__ import annotations\n", "")
    defined_where = {n: dotted(d) for d, names in dests.items() for n in names}
    reexport = here.endswith("__init__.py")
    remaining = [
        n for n in tree.body
        if defined_names(n) and defined_names(n)[0] not in owner and defined_names(n) != ["__all__"]
    ]
    for n in remaining:
        for name in defined_names(n):
            defined_where.setdefault(name, dotted(here))
    created = []
    for dest, nodes in pieces.items():
        mine = {x for n in nodes for x in defined_names(n)}
        wanted = used_names(nodes) - mine
        extra: dict[str, list[str]] = defaultdict(list)
        for name in sorted(wanted):
            src = defined_where.get(name)
            if src and src != dotted(dest):
                extra[src].append(name)
        body = "\n\n".join("".join(lines[slice(*span(lines, n))]).rstrip("\n") + "\n" for n in nodes)
        public = sorted(x for x in mine if not x.startswith("_") and x not in {"NAMING"})
        head = f'"""{SPLIT_DOCS.get(dest, "Split out of " + path + ".")}"""\n\nfrom __future__ import annotations\n\n'
        head += import_text
        head += "".join(f"from {m} import {', '.join(ns)}\n" for m, ns in sorted(extra.items()))
        head += f"\n__all__ = {public!r}\n\n\n" if public else "\n\n"
        log("split", f"{here} -> {dest}: {', '.join(sorted(mine))}")
        created.append(dest)
        if not dry:
            Path(dest).parent.mkdir(parents=True, exist_ok=True)
            Path(dest).write_text(head + body.replace("\n\n", "\n\n\n").replace("\n\n\n\n", "\n\n\n"))
    # what stays: drop the carried-out statements, prune __all__, re-export from a package face
    drop = sorted((span(lines, n) for ns in pieces.values() for n in ns), reverse=True)
    keep = lines[:]
    for a, b in drop:
        del keep[a:b]
    rest = "".join(keep)
    moved = set(owner)
    if not reexport:  # what was not carried out stays, its __all__ pruned
        rest = re.sub(r'\n\s+"(\w+)",', lambda m: "" if m.group(1) in moved else m.group(0), rest)
    else:  # a package face: its docstring, one re-export per piece, every table in __all__
        doc = ast.get_docstring(tree) or ""
        public = {x for ns in dests.values() for x in ns if not x.startswith("_") and x != "NAMING"}
        rest = f'"""{doc}\n"""\n\n' + "".join(
            f"from {dotted(d)} import {', '.join(sorted(set(ns) & public))}\n"
            for d, ns in sorted(dests.items()) if set(ns) & public
        ) + "\n__all__ = [\n" + "".join(f'    "{x}",\n' for x in sorted(public)) + "]\n"
    rest = re.sub(r"\n{4,}", "\n\n\n", rest)
    log("split", f"{here}: keeps {', '.join(sorted(x for n in remaining for x in defined_names(n))) or 'its face'}")
    if not dry:
        Path(here).write_text(rest)
    return created + [here]


# ---------------------------------------------------------------- step 4: rewrites


def new_from_import(node: ast.ImportFrom, mods: dict[str, str], syms: dict[tuple[str, str], str]) -> list[str]:
    """The statement(s) that replace one ``from A import ...`` (empty: leave it as is)."""
    mod = node.module or ""
    if node.level or not (mod == "datacoop" or mod.startswith("datacoop.") or mod.startswith("tests.")):
        return []
    groups: dict[str, list[str]] = defaultdict(list)
    changed = False
    for alias in node.names:
        bound = alias.asname or alias.name
        full = f"{mod}.{alias.name}"
        if (mod, alias.name) in syms:
            target, name = syms[(mod, alias.name)], alias.name
        elif full in mods:  # a moved submodule imported from its package
            new = mods[full]
            target, name = new.rpartition(".")[0], new.rpartition(".")[2]
        else:
            target, name = mods.get(mod, rewrite_prefix(mod, mods)), alias.name
        changed |= target != mod or name != alias.name
        groups[target].append(name if name == bound else f"{name} as {bound}")
    if not changed:
        return []
    return [f"from {t} import {', '.join(ns)}" for t, ns in groups.items()]


def rewrite_prefix(mod: str, mods: dict[str, str]) -> str:
    for old in sorted(mods, key=len, reverse=True):
        if mod == old or mod.startswith(old + "."):
            return mods[old] + mod[len(old) :]
    return mod


def rewrite_python_imports(text: str, mods: dict[str, str], syms: dict[tuple[str, str], str]) -> str:
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return text
    lines = text.splitlines(keepends=True)
    edits = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            new = new_from_import(node, mods, syms)
            if new:
                edits.append((node.lineno - 1, node.end_lineno or node.lineno, node.col_offset, new))
    for start, end, col, new in sorted(edits, reverse=True):
        indent = " " * col
        tail = lines[end - 1].rstrip("\n")
        comment = tail[tail.index("#") :] if "#" in tail and ")" not in tail[tail.index("#") :] else ""
        repl = "".join(f"{indent}{s}{'  ' + comment if comment and i == 0 else ''}\n" for i, s in enumerate(new))
        lines[start:end] = [repl]
    return "".join(lines)


def dotted_pattern(mods: dict[str, str], syms: dict[tuple[str, str], str]) -> tuple[re.Pattern[str], dict[str, str]]:
    table = dict(mods)
    for (m, n), target in syms.items():
        table[f"{m}.{n}"] = f"{target}.{n}"
    keys = sorted(table, key=len, reverse=True)
    pat = re.compile(r"(?<![\w.])(" + "|".join(re.escape(k) for k in keys) + r")(?![\w])")
    return pat, table


def path_pattern(plan: Plan) -> tuple[re.Pattern[str], dict[str, str]]:
    table = {o: n[0] for o, n in plan.moves.items()}
    table.update({o.removeprefix("src/"): n[0].removeprefix("src/") for o, n in plan.moves.items()})
    table.update({"src/datacoop/": "src/datacoop/", "src/datacoop/screening/": "src/datacoop/screening/",
                  "tests/unit/": "tests/unit/", "tests/unit/screening/": "tests/unit/screening/"})
    keys = sorted(table, key=len, reverse=True)
    return re.compile(r"(?<![\w/])(" + "|".join(re.escape(k) for k in keys) + r")"), table


def files_to_rewrite() -> list[Path]:
    out = [Path(f) for f in REWRITE_FILES if Path(f).exists()]
    for d in REWRITE_DIRS:
        for p in Path(d).rglob("*"):
            if p.is_file() and p.suffix in TEXT_SUFFIXES and p.name not in SKIP_NAMES and "__pycache__" not in p.parts:
                out.append(p)
    return sorted(set(out))


def rewrite_all(plan: Plan, dry: bool) -> list[Path]:
    mods, syms = module_map(plan), symbol_map(plan)
    dpat, dtable = dotted_pattern(mods, syms)
    ppat, ptable = path_pattern(plan)
    changed = []
    for p in files_to_rewrite():
        before = p.read_text()
        after = rewrite_python_imports(before, mods, syms) if p.suffix == ".py" else before
        after = dpat.sub(lambda m: dtable[m.group(1)], after)
        after = ppat.sub(lambda m: ptable[m.group(1)], after)
        if after != before:
            n = sum(1 for a, b in zip(before.splitlines(), after.splitlines(), strict=False) if a != b)
            log("rewrite", f"{p} ({n}+ lines)")
            changed.append(p)
            if not dry:
                p.write_text(after)
    if not changed:
        log("rewrite", "nothing to do")
    return changed


def ruff(args: list[str], files: list[str]) -> None:
    exe = os.environ.get("RUFF", shutil.which("ruff") or ".venv/bin/ruff")
    if files:
        r = subprocess.run([exe, *args, *files], capture_output=True, text=True)
        last = (r.stdout.strip().splitlines() or [""])[-1]
        log("ruff", f"{' '.join(args)} on {len(files)} files: {last}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tsv", type=Path)
    ap.add_argument("--dry-run", action="store_true", help="print what would change, change nothing")
    ap.add_argument("--no-ruff", action="store_true")
    a = ap.parse_args()
    if not Path("src/datacoop").is_dir():
        sys.exit("run this from the repository root")
    plan = Plan(a.tsv)
    plan.cover_new_files()
    move_files(plan, a.dry_run)
    created: list[str] = []
    for path, dests in plan.splits.items():
        created += split_file(plan, path, dests, a.dry_run)
    changed = rewrite_all(plan, a.dry_run)
    if not a.dry_run and not a.no_ruff:
        py = sorted({str(p) for p in changed if p.suffix == ".py"} | set(created))
        ruff(["check", "--fix", "--select", "F401,I", "--unsafe-fixes"], [c for c in created if Path(c).exists()])
        ruff(["check", "--fix", "--select", "I"], py)
        ruff(["format"], py)
    return 0


if __name__ == "__main__":
    sys.exit(main())
