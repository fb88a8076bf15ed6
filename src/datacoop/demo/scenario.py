"""The demo's scenario: one requester, several contributors and validators, one task, start to finish.

Everything runs for real on the embedded stack: a node (SQLite, local blobs, an
anvil chain with DataCoop's contracts) serves its API on a local port, and each
simulated participant talks to it through the SDK with their own key (SIWE
sign-in, EIP-712 submissions and votes); money moves on chain with the same keys.
Pre-screening runs in a worker thread of this process, as ``datacoop up``'s
embedded default does in a worker process. The data is generated with a known
truth (:mod:`datacoop.demo.images`) so every decision can be scored.
"""

from __future__ import annotations

import contextlib
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import uvicorn
from eth_account.signers.local import LocalAccount
from sqlalchemy import select
from web3.logs import DISCARD

from datacoop.api.app import create_app
from datacoop.app import Node, build_node
from datacoop.chain.contracts import DatasetRegistry, TaskEscrow, TestToken, ValidatorStaking
from datacoop.client import DataCoopClient
from datacoop.datasets.anchor import chain_record
from datacoop.datasets.export import EXPORTERS, get_exporter
from datacoop.datasets.manifest import Manifest
from datacoop.datasets.verify import directory_blobs, verify_manifest
from datacoop.db.models import Prescreen
from datacoop.demo.images import Kind, Sample, generate, plan
from datacoop.errors import Conflict, DataCoopError, InvalidInput, Unavailable
from datacoop.review.schemas import ReviewItem
from datacoop.settings import Settings
from datacoop.tasks.schemas import AcceptanceRules, ReviewRules, TaskCreate

__all__ = ["DemoOptions", "run_demo"]

UNIT = 10**18
REWARD = UNIT  # one token per accepted item
STAKE = 100 * UNIT
MIN_ITEMS, MAX_ITEMS = 12, 2_000
JURISDICTIONS = ("KE", "BR", "IN", "DE", "PH", "NG", "MX")
CONSENT = "I made this picture myself and agree to its use for training AI models under CC-BY-4.0."
# (accuracy, how many): careful validators, and careless ones who are right only 60% of the time
VALIDATORS = ((0.97, 3), (0.6, 2))
CONTRIBUTORS = 5
GOLD_PER_ANSWER = 5
# Votes per item; an item the first K votes leave unsure goes straight to the requester. No gold is mixed
# into the real queue (gold_rate 0): a validator's qualification is settled before work arrives, so no
# item waits on an assignment held by someone who lost it midway (it would wait out the assignment TTL).
K = 3


@dataclass(frozen=True)
class DemoOptions:
    data_dir: Path
    items: int = 300
    seed: int = 7
    export_formats: tuple[str, ...] = tuple(EXPORTERS)

    def check(self) -> None:
        if not MIN_ITEMS <= self.items <= MAX_ITEMS:
            raise InvalidInput(
                f"items must be between {MIN_ITEMS} and {MAX_ITEMS}, got {self.items}",
                field="items",
                limit=f"{MIN_ITEMS}..{MAX_ITEMS}",
            )
        if self.data_dir.exists() and any(self.data_dir.iterdir()):
            raise InvalidInput(
                f"{self.data_dir} is not empty: the demo starts a fresh node; give an empty or new folder",
                field="data_dir",
            )


Say = Callable[[str], None]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def _serving(node: Node, port: int) -> Iterator[str]:
    """The node's API on 127.0.0.1:port in a thread, for as long as the block runs."""
    config = uvicorn.Config(
        create_app(node), host="127.0.0.1", port=port, log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="demo-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise Unavailable(f"the demo's API did not start on port {port}", field="port")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


class _Clock:
    """Seconds per step, for the summary."""

    def __init__(self) -> None:
        self.start = self.last = time.perf_counter()
        self.steps: dict[str, float] = {}

    def lap(self, step: str) -> None:
        now = time.perf_counter()
        self.steps[step] = round(now - self.last, 2)
        self.last = now


def run_demo(options: DemoOptions, say: Say = lambda _line: None) -> dict[str, Any]:
    """Run the whole loop and return its numbers (the CLI prints them; tests check them)."""
    options.check()
    clock = _Clock()
    rng = random.Random(options.seed)
    port = _free_port()
    settings = Settings(
        data_dir=options.data_dir,
        chain="embedded",
        port=port,
        dev_accounts=2 + CONTRIBUTORS + sum(n for _, n in VALIDATORS),
        review_min_stake=STAKE,
        review_qualify_gold=4,
        review_qualify_accuracy=0.75,
    )
    say(f"starting a fresh node in {options.data_dir} (anvil, contracts, SQLite, local blobs) …")
    node = build_node(settings)
    node.review.rng = random.Random(options.seed)  # reproducible draws of validators onto items
    try:
        with _serving(node, port) as url:
            node.start_workers(threads=1)
            clock.lap("start")
            return _scenario(node, url, options, rng, clock, say)
    finally:
        node.close()


def _scenario(
    node: Node, url: str, options: DemoOptions, rng: random.Random, clock: _Clock, say: Say
) -> dict[str, Any]:
    assert node.chain is not None
    chain, deployment = node.chain.client, node.chain.deployment
    token, escrow = TestToken(chain, deployment.token), TaskEscrow(chain, deployment.escrow)
    dev = list(node.dev_accounts)
    requester_key, contributor_keys = dev[1], dev[2 : 2 + CONTRIBUTORS]
    validator_keys = dev[2 + CONTRIBUTORS :]
    for acct in dev[10:]:  # anvil gives ETH to its first ten accounts; the rest get gas money here
        chain.send(dev[0], {"to": acct.address, "value": UNIT})

    def client(acct: LocalAccount) -> DataCoopClient:
        c = DataCoopClient(url, account=acct)
        c.login()
        return c

    summary: dict[str, Any] = {"data_dir": str(options.data_dir.resolve()), "seed": options.seed}
    # 1. the requester creates a task and funds it on chain ------------------------------------------
    requester = client(requester_key)
    task = requester.create_task(
        TaskCreate(
            title="Everyday scenes, sharp and well lit",
            description="Photos of everyday scenes with several objects; no documents or screenshots.",
            modality="image",
            rules=AcceptanceRules(
                min_width=320, min_height=240, review=ReviewRules(k=K, max_votes=K, gold_rate=0.0)
            ),
            reward_per_item=REWARD,
            target_count=options.items,
            deadline=datetime.now(UTC) + timedelta(days=7),
            consent_text=CONSENT,
        )
    )
    budget = REWARD * options.items
    chain.send(requester_key, token.approve(escrow.address, budget).as_tx())
    receipt = chain.send(
        requester_key,
        escrow.open_task(token.address, budget, int(task.deadline.timestamp()), 30 * 86_400).as_tx(),
    )
    full = chain.w3.eth.get_transaction_receipt(receipt.tx_hash)  # type: ignore[arg-type]
    opened = (
        chain.contract("TaskEscrow", escrow.address).events.TaskOpened().process_receipt(full, errors=DISCARD)
    )
    escrow_task_id = int(opened[0]["args"]["taskId"])
    requester.link_escrow(task.id, escrow_task_id)
    summary["task"] = {
        "id": task.id,
        "escrow_task_id": escrow_task_id,
        "reward_per_item": str(REWARD),
        "budget": str(budget),
        "requester": requester_key.address,
    }
    say(f"1. task {task.id} funded on chain: escrow task {escrow_task_id}, {budget // UNIT} tokens")
    clock.lap("fund")

    # validators stake on chain and qualify on the requester's gold items before work arrives
    gold = _add_gold(requester, task.id, rng)
    validators = _stake_validators(node, validator_keys, client)
    for v in validators:
        _qualify(v, gold, rng)
    qualified = sum(v.client.validator_record().qualified for v in validators)
    if qualified < K:
        raise Unavailable(
            f"only {qualified} validators qualified on gold; review needs {K} (try another --seed)",
            field="seed",
        )
    say(f"   {len(validators)} validators staked {STAKE // UNIT} tokens each; {qualified} qualified on gold")
    clock.lap("stake_and_qualify")

    # 2. contributors submit generated images ---------------------------------------------------------
    samples = generate(plan(options.items, rng), rng)
    contributors = [client(k) for k in contributor_keys]
    homes = {k.address: JURISDICTIONS[i % len(JURISDICTIONS)] for i, k in enumerate(contributor_keys)}
    kind_of: dict[int, Kind] = {}
    senders: dict[int, DataCoopClient] = {}
    for i, sample in enumerate(samples):
        who = _sender(sample, i, contributors, senders, rng)
        assert who.account is not None
        cid = who.upload(sample.data).cid
        sub = who.submit(task.id, cid, homes[who.account.address], consent_hash=task.consent_hash)
        kind_of[sub.id] = sample.kind
        senders[i] = who
    kinds = Counter(s.kind.value for s in samples)
    summary["submitted"] = {
        "items": len(samples),
        "by_kind": dict(kinds),
        "contributors": len(contributors),
        "jurisdictions": sorted(set(homes.values())),
    }
    say(f"2. {len(samples)} signed submissions from {len(contributors)} contributors: {dict(kinds)}")
    clock.lap("submit")

    # 3. pre-screening ---------------------------------------------------------------------------------
    _wait(lambda: node.screening.pending() == 0, timeout=60 + options.items, what="pre-screening")
    screening = _screening_counts(node, kind_of)
    summary["prescreen"] = screening
    say(
        f"3. pre-screening: {screening['rejected']} rejected {screening['rejected_by_reason']}, "
        f"{screening['to_review']} to review; relevance: {screening['relevance']}"
    )
    clock.lap("prescreen")

    # 4. validators review what pre-screening passed; consensus decides, the requester settles the unsure --
    review = _review(node, requester, validators, gold, kind_of, rng)
    summary["review"] = review
    say(
        f"4. review: {review['decided']} items decided, accuracy {review['accuracy']:.1%} against the truth, "
        f"{review['votes_per_item']:.2f} votes per item; {review['by_consensus']} by consensus, "
        f"{review['escalated']} escalated to the requester"
    )
    clock.lap("review")

    # 5. settlement -------------------------------------------------------------------------------------
    summary["settlement"] = _settle(node, task.id, contributors, token, escrow)
    say(
        f"5. epoch {summary['settlement']['epoch']} {summary['settlement']['status']} on chain; "
        f"{summary['settlement']['claims']} claims paid {summary['settlement']['paid_total']} base units"
    )
    clock.lap("settle")

    # 6. dataset: freeze, anchor, verify, export ---------------------------------------------------------
    summary["dataset"] = _dataset(node, requester, task.id, options, say)
    clock.lap("dataset")
    summary["seconds"] = {**clock.steps, "total": round(time.perf_counter() - clock.start, 2)}
    return summary


def _sender(
    sample: Sample,
    index: int,
    contributors: list[DataCoopClient],
    senders: dict[int, DataCoopClient],
    rng: random.Random,
) -> DataCoopClient:
    """Who sends a sample: a copy comes from someone other than the original's author (a re-upload)."""
    if sample.source is not None and sample.source in senders:
        others = [c for c in contributors if c is not senders[sample.source]]
        return rng.choice(others)
    return contributors[index % len(contributors)]


def _wait(done: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise Unavailable(f"{what} did not finish within {timeout:.0f}s", field="demo")
        time.sleep(0.1)


def _screening_counts(node: Node, kind_of: dict[int, Kind]) -> dict[str, Any]:
    by_reason: Counter[str] = Counter()
    caught: dict[str, Counter[str]] = {}
    relevance: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    for sid, kind in kind_of.items():
        report = node.screening.report(sid)
        outcome = str(report["outcome"])
        outcomes[outcome] += 1
        stages: list[dict[str, Any]] = report["stages"]  # type: ignore[assignment]
        for stage in stages:
            if stage["stage"] == "relevance":
                relevance[stage["verdict"]] += 1
        if outcome == "rejected":
            failed = next(s for s in stages if s["verdict"] == "fail")
            reason = str(failed["stage"])
            if reason == "duplicates":
                reason += " (near)" if "matches" in failed["details"] else " (exact)"
            by_reason[reason] += 1
            caught.setdefault(kind.value, Counter())[reason] += 1
    scored = relevance.get("pass", 0) + relevance.get("fail", 0) + relevance.get("unsure", 0)
    return {
        "rejected": outcomes["rejected"],
        "to_review": outcomes["in_review"],
        "accepted_outright": outcomes["accepted"],
        "rejected_by_reason": dict(by_reason),
        "rejected_by_kind": {k: sum(c.values()) for k, c in caught.items()},
        "relevance": "scored" if scored else "not scored (no image model configured): validators judge topic",
    }


def _add_gold(requester: DataCoopClient, task_id: int, rng: random.Random) -> dict[str, str]:
    """Items with a known answer, from the requester: newcomers qualify on them, and they keep coming."""
    good = generate([Kind.GOOD] * GOLD_PER_ANSWER, rng)
    bad = generate([Kind.OFF_TOPIC] * GOLD_PER_ANSWER, rng)
    answers: dict[str, str] = {}
    for sample in good + bad:
        cid = requester.upload(sample.data).cid
        requester.add_gold(task_id, cid, sample.kind.truth)
        answers[cid] = sample.kind.truth
    return answers


@dataclass
class _Validator:
    client: DataCoopClient
    accuracy: float
    votes: int = 0
    gold: int = 0


def _stake_validators(
    node: Node, keys: list[LocalAccount], client: Callable[[LocalAccount], DataCoopClient]
) -> list[_Validator]:
    assert node.chain is not None
    chain, deployment = node.chain.client, node.chain.deployment
    token, staking = TestToken(chain, deployment.token), ValidatorStaking(chain, deployment.staking)
    accuracies = [a for a, n in VALIDATORS for _ in range(n)]
    validators = []
    for acct, accuracy in zip(keys, accuracies, strict=True):
        chain.send(acct, token.approve(staking.address, STAKE).as_tx())
        chain.send(acct, staking.stake(STAKE).as_tx())
        validators.append(_Validator(client(acct), accuracy))
    return validators


def _qualify(v: _Validator, gold: dict[str, str], rng: random.Random) -> None:
    """Answer gold items (as carefully as this validator is) until qualified or none is left."""
    while (item := v.client.next_review()) is not None:
        _vote(v, item, gold[item.cid], rng)
        v.gold += 1


def _review(
    node: Node,
    requester: DataCoopClient,
    validators: list[_Validator],
    gold: dict[str, str],
    kind_of: dict[int, Kind],
    rng: random.Random,
) -> dict[str, Any]:
    with node.db.transaction() as s:
        scrubbed = {row.scrubbed_cid or "": row.submission_id for row in s.scalars(select(Prescreen))}
    truth_of = {cid: kind_of[sid].truth for cid, sid in scrubbed.items() if sid in kind_of}
    active = list(validators)
    while active:
        for v in list(active):
            item = v.client.next_review()
            if item is None:
                active.remove(v)
                continue
            _vote(v, item, gold.get(item.cid) or truth_of[item.cid], rng)
            v.gold += item.cid in gold
    in_review = [sid for sid in kind_of if _reached_review(node, sid)]
    escalated = 0
    for sid in in_review:
        if requester.review_status(sid).status == "escalated":
            requester.decide(sid, kind_of[sid].truth, "the requester checked it")
            escalated += 1
    decided = correct = votes = 0
    stuck = 0
    for sid in in_review:
        status = requester.review_status(sid)
        if status.status != "final":
            stuck += 1
            continue
        decided += 1
        votes += status.votes
        correct += status.answer == kind_of[sid].truth
    records = [v.client.validator_record() for v in validators]
    final_by_kind: dict[str, Counter[str]] = {}
    for sid in in_review:
        answer = requester.review_status(sid).answer
        if answer is not None:
            final_by_kind.setdefault(kind_of[sid].value, Counter())[str(answer)] += 1
    return {
        "items": len(in_review),
        "decided": decided,
        "undecided": stuck,
        "correct": correct,
        "accuracy": correct / decided if decided else 0.0,
        "votes_per_item": votes / decided if decided else 0.0,
        "escalated": escalated,
        "by_consensus": decided - escalated,
        "final_by_kind": {kind: dict(answers) for kind, answers in final_by_kind.items()},
        "validators": [
            {
                "address": r.address,
                "accuracy": v.accuracy,
                "qualified": r.qualified,
                "gold_answered": r.gold_answered,
                "gold_correct": r.gold_correct,
                "votes": v.votes - v.gold,
            }
            for v, r in zip(validators, records, strict=True)
        ],
    }


def _reached_review(node: Node, submission_id: int) -> bool:
    report = node.screening.report(submission_id)
    return report["outcome"] == "in_review"


def _vote(v: _Validator, item: ReviewItem, truth: str, rng: random.Random) -> None:
    right = rng.random() < v.accuracy
    v.client.vote(item, truth if right else ("reject" if truth == "accept" else "accept"))
    v.votes += 1


def _settle(
    node: Node,
    task_id: int,
    contributors: list[DataCoopClient],
    token: TestToken,
    escrow: TaskEscrow,
) -> dict[str, Any]:
    assert node.chain is not None
    chain = node.chain.client
    epoch = node.settlement.settle(task_id)
    if epoch is None:
        raise Conflict("no item was accepted: there is nothing to settle (try another --seed)", field="seed")
    accepted: Counter[str] = Counter()
    for c in contributors:
        for sub in c.my_submissions(task_id):
            if sub.state == "accepted":
                accepted[sub.contributor] += 1
    payouts = []
    claims = paid = 0
    for c in contributors:
        acct = c.account
        assert acct is not None
        before = token.balance_of(acct.address)
        for claim in c.claims(acct.address):
            if int(claim["claimable"]) > 0:
                req = escrow.claim(
                    claim["escrow_task_id"], acct.address, int(claim["cumulative"]), claim["proof"]
                )
                chain.send(acct, req.as_tx())
                claims += 1
        after = token.balance_of(acct.address)
        paid += after - before
        payouts.append(
            {
                "address": acct.address,
                "accepted": accepted[acct.address],
                "before": str(before),
                "after": str(after),
                "gained": str(after - before),
                "expected": str(accepted[acct.address] * REWARD),
            }
        )
    return {
        "epoch": epoch.number,
        "status": epoch.status,
        "total": str(epoch.total),
        "tx_hash": epoch.tx_hash,
        "claims": claims,
        "paid_total": str(paid),
        "accepted": sum(accepted.values()),
        "payouts": payouts,
    }


def _dataset(
    node: Node, requester: DataCoopClient, task_id: int, options: DemoOptions, say: Say
) -> dict[str, Any]:
    assert node.chain is not None
    dataset = requester.create_dataset("Everyday scenes (demo)", {"task_ids": [task_id]})
    version = requester.create_dataset_version(dataset.id)
    pending = version.anchor.status
    anchored = node.datasets.anchor(version.id)
    data = requester.dataset_manifest(version.id)
    manifest = Manifest.from_bytes(data)
    registry = DatasetRegistry(node.chain.client, node.chain.deployment.registry)
    token_id = int(anchored.anchor.token_id) if anchored.anchor.token_id is not None else None
    record = (
        None
        if token_id is None
        else chain_record(registry, token_id, anchored.manifest_cid, manifest.version)
    )
    report = verify_manifest(data, blobs=directory_blobs(options.data_dir), chain=record)
    say(
        f"6. dataset version {manifest.version}: {manifest.item_count} items, anchor {pending} → "
        f"{anchored.anchor.status}, verify {'ok' if report.ok else 'FAILED'}"
    )
    exports, skipped = _export(node, manifest, anchored.manifest_cid, options, say)
    return {
        "id": dataset.id,
        "version_id": version.id,
        "version": manifest.version,
        "items": manifest.item_count,
        "manifest_cid": anchored.manifest_cid,
        "items_root": manifest.items_root,
        "anchor": {
            "before": pending,
            "status": anchored.anchor.status,
            "token_id": token_id,
            "tx_hash": anchored.anchor.tx_hash,
        },
        "verified": report.ok,
        "verify_failures": [f"{c.name}: {c.detail}" for c in report.failures],
        "exports": exports,
        "exports_skipped": skipped,
    }


def _export(
    node: Node, manifest: Manifest, manifest_cid: str, options: DemoOptions, say: Say
) -> tuple[dict[str, Any], dict[str, str]]:
    import inspect

    root = options.data_dir / "exports"
    done: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    for name in options.export_formats:
        try:
            exporter = get_exporter(name)
        except DataCoopError as exc:
            skipped[name] = exc.message
            say(f"   export {name}: skipped ({exc.message})")
            continue
        accepted = inspect.signature(exporter).parameters
        extra: dict[str, Any] = {}
        if "manifest_cid" in accepted:
            extra["manifest_cid"] = manifest_cid
        if "blob_profile" in accepted:
            extra["blob_profile"] = lambda cid: node.store.stat(cid).profile
        result = exporter(manifest, node.store.open, root / name, **extra)
        done[name] = {"items": result.items, "files": [str(p) for p in result.files]}
    return done, skipped
