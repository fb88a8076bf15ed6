"""Community review's request path: milliseconds per ``GET /reviews/next`` and per vote, small queue, large.

Usage: ``python benchmarks/review.py --json [--items 300 --small 30 --validators 5 --k 3 --seed 0]``.
Prints one JSON object.

For each queue size (``--small`` items, then ``--items``) a fresh node (SQLite, no chain, stakes not
required) serves its API in process; a requester opens a task with gold items, ``--validators``
validators qualify on them, contributors submit the items, which are moved into review, and the
validators take turns asking for their next item and voting (90% of the time with the truth) until
no item is left. Only the review service's own calls are timed (``next_for``, ``vote``: drawing
validators onto items, choosing, signature check, consensus), not HTTP or the client's signing.
``next_ms``/``vote_ms`` are medians over every call; ``next_ratio``/``vote_ratio`` divide the large
queue's median by the small one's: a request that rescanned the queue would grow with it (goal: the
ratio stays near 1).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from eth_account import Account
from fastapi.testclient import TestClient

from datacoop.api.app import create_app
from datacoop.app import build_node
from datacoop.client import DataCoopClient
from datacoop.settings import Settings
from datacoop.tasks.schemas import AcceptanceRules, ReviewRules, TaskCreate
from datacoop.tasks.states import SubmissionState

CONSENT = "I made this picture myself and agree to its use for training AI models under CC-BY-4.0."
GOLD = (("accept", 2), ("reject", 2))
T = TypeVar("T")


def _timed(fn: Callable[..., T], into: list[float]) -> Callable[..., T]:
    def call(*args: Any, **kwargs: Any) -> T:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            into.append(time.perf_counter() - start)

    return call


def run(items: int, validators: int, k: int, seed: int) -> dict[str, Any]:
    """One queue of ``items`` reviewed to the end; the service's times per call."""
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=Path(tmp) / "node", chain="off", review_min_stake=0, review_qualify_gold=2
        )
        node = build_node(settings)
        node.review.rng = random.Random(seed)
        next_times: list[float] = []
        vote_times: list[float] = []
        try:
            with TestClient(create_app(node)) as http:

                def client(key: int) -> DataCoopClient:
                    c = DataCoopClient(account=Account.from_key(key.to_bytes(32, "big")), http=http)
                    c.login()
                    return c

                requester = client(1)
                task = requester.create_task(
                    TaskCreate(
                        title="Everyday scenes, sharp and well lit",
                        description="Photos of everyday scenes with several objects; no screenshots.",
                        modality="image",
                        rules=AcceptanceRules(review=ReviewRules(k=k, max_votes=k, gold_rate=0.0)),
                        reward_per_item=10**18,
                        target_count=items,
                        deadline=datetime.now(UTC) + timedelta(days=7),
                        consent_text=CONSENT,
                    )
                )
                gold: dict[str, str] = {}
                for answer, count in GOLD:
                    for _ in range(count):
                        cid = requester.upload(os.urandom(64)).cid
                        requester.add_gold(task.id, cid, answer)
                        gold[cid] = answer
                panel = [client(100 + i) for i in range(validators)]
                for v in panel:
                    while (item := v.next_review()) is not None:
                        v.vote(item, gold[item.cid])
                contributors = [client(10 + i) for i in range(3)]
                truth: dict[str, str] = {}
                for i in range(items):
                    c = contributors[i % len(contributors)]
                    cid = c.upload(os.urandom(256)).cid
                    sid = c.submit(task.id, cid, "KE").id
                    node.submissions.transition(sid, SubmissionState.SCREENING, reason="benchmark")
                    node.submissions.transition(sid, SubmissionState.IN_REVIEW, reason="benchmark")
                    truth[cid] = "accept" if rng.random() < 0.7 else "reject"
                node.review.next_for = _timed(node.review.next_for, next_times)  # type: ignore[method-assign]
                node.review.vote = _timed(node.review.vote, vote_times)  # type: ignore[method-assign]
                start = time.perf_counter()
                active = list(panel)
                while active:
                    for v in list(active):
                        item = v.next_review()
                        if item is None:
                            active.remove(v)
                            continue
                        right = truth[item.cid]
                        wrong = "reject" if right == "accept" else "accept"
                        v.vote(item, right if rng.random() < 0.9 else wrong)
                review_s = time.perf_counter() - start
        finally:
            node.close()
    return {
        "items": items,
        "next_calls": len(next_times),
        "vote_calls": len(vote_times),
        "next_ms": round(statistics.median(next_times) * 1000, 2),
        "vote_ms": round(statistics.median(vote_times) * 1000, 2),
        "review_s": round(review_s, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--json", action="store_true", help="print one JSON object (the only output)")
    parser.add_argument("--items", type=int, default=300, help="items in the large queue")
    parser.add_argument("--small", type=int, default=30, help="items in the small queue")
    parser.add_argument("--validators", type=int, default=5)
    parser.add_argument("--k", type=int, default=3, help="votes per item")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not 1 <= args.small <= args.items:
        parser.error(f"--small must be between 1 and --items ({args.items}), got {args.small}")
    if args.validators < args.k:
        parser.error(f"--validators must be at least --k ({args.k}), got {args.validators}")
    small = run(args.small, args.validators, args.k, args.seed)
    large = run(args.items, args.validators, args.k, args.seed)
    result = {
        "small": small,
        "large": large,
        "next_ms": large["next_ms"],
        "vote_ms": large["vote_ms"],
        "next_ratio": round(large["next_ms"] / small["next_ms"], 2),
        "vote_ratio": round(large["vote_ms"] / small["vote_ms"], 2),
        "validators": args.validators,
        "k": args.k,
        "cpus": len(os.sched_getaffinity(0)),
    }
    print(json.dumps(result, indent=None if args.json else 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
