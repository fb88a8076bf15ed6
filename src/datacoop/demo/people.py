"""The demo's simulated people: contributors who send samples, validators who stake, qualify and vote.

Validators answer as carefully as their accuracy says (the truth is known, as the
data is generated), so the review's outcome can be scored against the truth.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount

from datacoop.app import Node
from datacoop.client import DataCoopClient
from datacoop.demo.images import Kind, Sample, generate
from datacoop.demo.money import UNIT
from datacoop.review import wallet
from datacoop.review.schemas import ReviewItem

STAKE = 100 * UNIT
# (accuracy, how many): careful validators, and careless ones who are right only 60% of the time
VALIDATORS = ((0.97, 3), (0.6, 2))
GOLD_PER_ANSWER = 5


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
    rpc_url, deployment = node.chain.client.rpc_url, node.chain.deployment
    accuracies = [a for a, n in VALIDATORS for _ in range(n)]
    validators = []
    for acct, accuracy in zip(keys, accuracies, strict=True):
        wallet.stake(rpc_url, acct, token=deployment.token, staking=deployment.staking, amount=STAKE)
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
    scrubbed = node.screening.scrubbed_copies(kind_of)
    truth_of = {cid: kind_of[sid].truth for cid, sid in scrubbed.items()}
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
