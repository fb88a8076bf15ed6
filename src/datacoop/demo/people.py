"""The demo's simulated people: contributors who send samples, validators who stake, qualify and vote.

Validators, and the requester on the items escalated to them, answer as carefully as
their stated accuracy says (the truth is known, as the data is generated, but nobody
simply reads it), so the review's outcome can be scored against the truth: the
validators' decisions and the requester's separately.
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
# (accuracy, how many): careful validators, and careless ones who are right only 60% of the time. Enough
# of them that an item consensus is unsure about can get more votes (up to the task's cap) from people
# who have not seen it, so the requester decides only what stays unsure at the cap.
VALIDATORS = ((0.95, 6), (0.6, 3))
GOLD_PER_ANSWER = 8
# The simulated requester is no oracle: on an escalated item they are right this often, like anyone else.
REQUESTER_ACCURACY = 0.95


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
    in_review = [sid for sid in kind_of if _reached_review(node, sid)]
    # Only what reached review: an exact copy rejected by pre-screening has the same scrubbed CID as its
    # original, and its truth ("reject") must not stand in for the original's.
    scrubbed = node.screening.scrubbed_copies(in_review)
    truth_of = {cid: kind_of[sid].truth for cid, sid in scrubbed.items()}
    _vote_until_done(validators, {**truth_of, **gold}, gold, rng)
    for sid in in_review:
        if requester.review_status(sid).status == "escalated":
            answer = _answer(kind_of[sid].truth, REQUESTER_ACCURACY, rng)
            requester.decide(sid, answer, "the requester looked at it")
    statuses = {sid: requester.review_status(sid) for sid in in_review}
    decided = {sid: st for sid, st in statuses.items() if st.status == "final"}
    right = {sid: st.answer == kind_of[sid].truth for sid, st in decided.items()}
    by_validators = [sid for sid, st in decided.items() if st.decided_by == "consensus"]
    by_requester = [sid for sid, st in decided.items() if st.decided_by == "requester"]
    final_by_kind: dict[str, Counter[str]] = {}
    for sid, st in decided.items():
        final_by_kind.setdefault(kind_of[sid].value, Counter())[str(st.answer)] += 1
    records = [v.client.validator_record() for v in validators]
    return {
        "items": len(in_review),
        "decided": len(decided),
        "undecided": len(in_review) - len(decided),
        "correct": sum(right.values()),
        "accuracy": _share(sum(right.values()), len(decided)),
        "votes_per_item": _share(sum(st.votes for st in decided.values()), len(decided)),
        "by_consensus": len(by_validators),
        "validator_accuracy": _share(sum(right[sid] for sid in by_validators), len(by_validators)),
        "escalated": len(by_requester),
        "escalated_share": _share(len(by_requester), len(in_review)),
        "requester_decided": len(by_requester),
        "requester_accuracy": (  # None when the requester decided nothing
            _share(sum(right[sid] for sid in by_requester), len(by_requester)) if by_requester else None
        ),
        "requester_stated_accuracy": REQUESTER_ACCURACY,
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


def _vote_until_done(
    validators: list[_Validator], truth_of: dict[str, str], gold: dict[str, str], rng: random.Random
) -> None:
    """Every validator takes and answers what they are served, round after round, until a round serves none.

    A vote may make consensus ask for another one from a validator who was served nothing earlier in the
    round, so nobody leaves early: only a whole round without work means no item waits on anyone.
    """
    served = True
    while served:
        served = False
        for v in validators:
            item = v.client.next_review()
            if item is None:
                continue
            served = True
            _vote(v, item, truth_of[item.cid], rng)
            v.gold += item.cid in gold


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _answer(truth: str, accuracy: float, rng: random.Random) -> str:
    """What someone who is right with probability ``accuracy`` answers on an item whose truth is known."""
    if rng.random() < accuracy:
        return truth
    return "reject" if truth == "accept" else "accept"


def _reached_review(node: Node, submission_id: int) -> bool:
    report = node.screening.report(submission_id)
    return report["outcome"] == "in_review"


def _vote(v: _Validator, item: ReviewItem, truth: str, rng: random.Random) -> None:
    v.client.vote(item, _answer(truth, v.accuracy, rng))
    v.votes += 1
