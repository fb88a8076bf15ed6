"""The demo's scenario: one requester, several contributors and validators, one task, start to finish.

Everything runs for real on the embedded stack: a node (SQLite, local blobs, an
anvil chain with DataCoop's contracts) serves its API on a local port, and each
simulated participant talks to it through the SDK with their own key (SIWE
sign-in, EIP-712 submissions and votes); money moves on chain with the same keys.
Pre-screening runs in a worker thread of this process, as ``datacoop up``'s
embedded default does in a worker process. The data is generated with a known
truth (:mod:`datacoop.demo.images`) so every decision can be scored.

Each act of the story is one function below (fund, enlist validators, contribute,
pre-screen, review, settle, publish the dataset); the people are in
:mod:`datacoop.demo.people`, the money and the dataset in :mod:`datacoop.demo.money`.
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

from datacoop.api.app import create_app
from datacoop.app import Node, build_node
from datacoop.client import DataCoopClient
from datacoop.datasets.export import EXPORTERS
from datacoop.demo.images import Kind, generate, plan
from datacoop.demo.money import REWARD, UNIT, _dataset, _open_escrow, _settle
from datacoop.demo.people import (
    STAKE,
    VALIDATORS,
    _add_gold,
    _qualify,
    _review,
    _sender,
    _stake_validators,
    _Validator,
)
from datacoop.errors import InvalidInput, Unavailable
from datacoop.settings import Settings
from datacoop.tasks.schemas import AcceptanceRules, ReviewRules, TaskCreate, TaskPublic

__all__ = ["DemoOptions", "run_demo"]

MIN_ITEMS, MAX_ITEMS = 12, 2_000
JURISDICTIONS = ("KE", "BR", "IN", "DE", "PH", "NG", "MX")
CONSENT = "I made this picture myself and agree to its use for training AI models under CC-BY-4.0."
CONTRIBUTORS = 5
# Votes per item: K to start, then one more at a time while consensus is unsure (its posterior below the
# task's threshold), up to MAX_VOTES; only an item still unsure at the cap goes to the requester. Gold is
# mixed into the real queue at GOLD_RATE, so each validator's skill keeps being measured while they work
# (one who falls below the qualification bar stops counting, and their open items go to others).
K = 3
MAX_VOTES = 7
GOLD_RATE = 0.1


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


@dataclass
class _Story:
    """What every act shares: node, API, options, dice, clock, narrator and the summary they fill."""

    node: Node
    url: str
    options: DemoOptions
    rng: random.Random
    clock: _Clock
    say: Say
    summary: dict[str, Any]

    def client(self, acct: LocalAccount) -> DataCoopClient:
        """A participant signed in to the node's API with their own key."""
        c = DataCoopClient(self.url, account=acct)
        c.login()
        return c


def _scenario(
    node: Node, url: str, options: DemoOptions, rng: random.Random, clock: _Clock, say: Say
) -> dict[str, Any]:
    assert node.chain is not None
    dev = list(node.dev_accounts)
    for acct in dev[10:]:  # anvil gives ETH to its first ten accounts; the rest get gas money here
        node.chain.client.send(dev[0], {"to": acct.address, "value": UNIT})
    summary: dict[str, Any] = {"data_dir": str(options.data_dir.resolve()), "seed": options.seed}
    story = _Story(node, url, options, rng, clock, say, summary)
    requester = story.client(dev[1])
    task = _fund(story, requester)
    gold, validators = _enlist_validators(story, requester, task.id, dev[2 + CONTRIBUTORS :])
    contributors, kind_of = _contribute(story, task, dev[2 : 2 + CONTRIBUTORS])
    _prescreen(story, kind_of)
    _review_items(story, requester, validators, gold, kind_of)
    _pay(story, task.id, contributors)
    _publish(story, requester, task.id)
    summary["seconds"] = {**clock.steps, "total": round(time.perf_counter() - clock.start, 2)}
    return summary


def _fund(story: _Story, requester: DataCoopClient) -> TaskPublic:
    """1. The requester creates a task and funds it on chain."""
    assert requester.account is not None
    task = requester.create_task(
        TaskCreate(
            title="Everyday scenes, sharp and well lit",
            description="Photos of everyday scenes with several objects; no documents or screenshots.",
            modality="image",
            rules=AcceptanceRules(
                min_width=320,
                min_height=240,
                review=ReviewRules(k=K, max_votes=MAX_VOTES, gold_rate=GOLD_RATE),
            ),
            reward_per_item=REWARD,
            target_count=story.options.items,
            deadline=datetime.now(UTC) + timedelta(days=7),
            consent_text=CONSENT,
        )
    )
    budget = REWARD * story.options.items
    escrow_task_id = _open_escrow(story.node, requester.account, budget, task.deadline)
    requester.link_escrow(task.id, escrow_task_id)
    story.summary["task"] = {
        "id": task.id,
        "escrow_task_id": escrow_task_id,
        "reward_per_item": str(REWARD),
        "budget": str(budget),
        "token": task.token.model_dump() if task.token else None,
        "requester": requester.account.address,
    }
    shown = task.token.format(budget) if task.token else f"{budget} base units"
    story.say(f"1. task {task.id} funded on chain: escrow task {escrow_task_id}, {shown}")
    story.clock.lap("fund")
    return task


def _enlist_validators(
    story: _Story, requester: DataCoopClient, task_id: int, keys: list[LocalAccount]
) -> tuple[dict[str, str], list[_Validator]]:
    """Validators stake on chain and qualify on the requester's gold items before work arrives."""
    gold = _add_gold(requester, task_id, story.rng)
    validators = _stake_validators(story.node, keys, story.client)
    for v in validators:
        _qualify(v, gold, story.rng)
    qualified = sum(v.client.validator_record().qualified for v in validators)
    if qualified < K:
        raise Unavailable(
            f"only {qualified} validators qualified on gold; review needs {K} (try another --seed)",
            field="seed",
        )
    story.say(
        f"   {len(validators)} validators staked {STAKE // UNIT} tokens each; {qualified} qualified on gold"
    )
    story.clock.lap("stake_and_qualify")
    return gold, validators


def _contribute(
    story: _Story, task: TaskPublic, keys: list[LocalAccount]
) -> tuple[list[DataCoopClient], dict[int, Kind]]:
    """2. Contributors submit generated images, signed, each from their home jurisdiction."""
    rng = story.rng
    samples = generate(plan(story.options.items, rng), rng)
    contributors = [story.client(k) for k in keys]
    homes = {k.address: JURISDICTIONS[i % len(JURISDICTIONS)] for i, k in enumerate(keys)}
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
    story.summary["submitted"] = {
        "items": len(samples),
        "by_kind": dict(kinds),
        "contributors": len(contributors),
        "jurisdictions": sorted(set(homes.values())),
    }
    story.say(f"2. {len(samples)} signed submissions from {len(contributors)} contributors: {dict(kinds)}")
    story.clock.lap("submit")
    return contributors, kind_of


def _prescreen(story: _Story, kind_of: dict[int, Kind]) -> None:
    """3. Pre-screening, in the node's worker thread: wait until it is done, then count what it caught."""
    node = story.node
    _wait(lambda: node.screening.pending() == 0, timeout=60 + story.options.items, what="pre-screening")
    screening = _screening_counts(node, kind_of)
    story.summary["prescreen"] = screening
    story.say(
        f"3. pre-screening: {screening['rejected']} rejected {screening['rejected_by_reason']}, "
        f"{screening['to_review']} to review; relevance: {screening['relevance']}"
    )
    story.clock.lap("prescreen")


def _review_items(
    story: _Story,
    requester: DataCoopClient,
    validators: list[_Validator],
    gold: dict[str, str],
    kind_of: dict[int, Kind],
) -> None:
    """4. Validators review what pre-screening passed; the requester decides only what stays unsure."""
    review = _review(story.node, requester, validators, gold, kind_of, story.rng)
    story.summary["review"] = review
    story.say(
        f"4. review: {review['decided']} items decided, {review['votes_per_item']:.2f} votes per item; "
        f"{review['by_consensus']} by validators ({review['validator_accuracy']:.1%} right), "
        f"{review['escalated']} escalated ({review['escalated_share']:.1%}) to the requester, right "
        f"{review['requester_stated_accuracy']:.0%} of the time{_here(review['requester_accuracy'])}"
    )
    story.clock.lap("review")


def _here(accuracy: float | None) -> str:
    return "" if accuracy is None else f" ({accuracy:.1%} here)"


def _pay(story: _Story, task_id: int, contributors: list[DataCoopClient]) -> None:
    """5. Settlement: the node closes an epoch on chain, and every contributor claims their share."""
    settlement = _settle(story.node, task_id, contributors)
    story.summary["settlement"] = settlement
    story.say(
        f"5. epoch {settlement['epoch']} {settlement['status']} on chain; "
        f"{settlement['claims']} claims paid {settlement['paid_total']} base units"
    )
    story.clock.lap("settle")


def _publish(story: _Story, requester: DataCoopClient, task_id: int) -> None:
    """6. The dataset: freeze a version, anchor it on chain, verify it, export it."""
    options = story.options
    story.summary["dataset"] = _dataset(
        story.node, requester, task_id, options.data_dir, options.export_formats, story.say
    )
    story.clock.lap("dataset")


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
