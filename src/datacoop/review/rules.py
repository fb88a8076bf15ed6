"""Community review rules, without I/O: who may review an item, the weighted draw, juries, reputation.

The review service loads rows and asks these functions; nothing here reads a database,
the chain or a clock, so each rule is tested on its own.
"""

from __future__ import annotations

import enum
import math
import random
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from datacoop.errors import InvalidInput, Unprocessable

__all__ = [
    "AssignmentKind",
    "AssignmentStatus",
    "Candidate",
    "Qualification",
    "ReviewAnswer",
    "appeal_verdict",
    "check_labels",
    "eligible",
    "gold_accuracy",
    "jury_size",
    "reputation",
    "should_exclude",
    "slots_wanted",
    "weighted_draw",
]


class ReviewAnswer(enum.StrEnum):
    """A validator's verdict on an item; the consensus classes are 0 = reject, 1 = accept."""

    ACCEPT = "accept"
    REJECT = "reject"

    @property
    def klass(self) -> int:
        """The consensus class index."""
        return 1 if self is ReviewAnswer.ACCEPT else 0

    @classmethod
    def of_index(cls, index: int) -> ReviewAnswer:
        return cls.ACCEPT if index == 1 else cls.REJECT


class AssignmentKind(enum.StrEnum):
    NORMAL = "normal"
    GOLD = "gold"
    APPEAL = "appeal"


class AssignmentStatus(enum.StrEnum):
    OPEN = "open"
    VOTED = "voted"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Candidate:
    """A validator who could be drawn: its row id, its participant id and its reputation (the weight)."""

    validator_id: int
    participant_id: int
    reputation: float


@dataclass(frozen=True)
class Qualification:
    """When gold answers qualify a validator, and when they exclude one."""

    gold_needed: int = 5
    min_accuracy: float = 0.8
    exclude_after: int = 20
    exclude_below: float = 0.6

    def qualified(self, answered: int, correct: int) -> bool:
        accuracy = gold_accuracy(answered, correct)
        return answered >= self.gold_needed and accuracy is not None and accuracy >= self.min_accuracy


def gold_accuracy(answered: int, correct: int) -> float | None:
    """The share of gold items answered correctly; None before the first."""
    return correct / answered if answered else None


def should_exclude(answered: int, correct: int, rules: Qualification) -> bool:
    """True once a validator has answered enough gold items and stays below the accuracy floor."""
    accuracy = gold_accuracy(answered, correct)
    return answered >= rules.exclude_after and accuracy is not None and accuracy < rules.exclude_below


def reputation(gold_answered: int, gold_correct: int, decided: int, agreed: int) -> float:
    """How far to trust a validator, in (0, 1): gold accuracy and agreement with final outcomes, pooled.

    A Beta(1, 1) prior keeps a newcomer at 0.5 and keeps every weight above zero, so nobody
    who is eligible is never drawn.
    """
    return (gold_correct + agreed + 1) / (gold_answered + decided + 2)


def eligible(
    candidates: Iterable[Candidate],
    *,
    contributor: int,
    requester: int,
    linked: Collection[int],
    seen: Collection[int],
) -> list[Candidate]:
    """The candidates who may review an item.

    Args:
        contributor: the item's contributor (participant id): never their own item.
        requester: the task's requester (participant id): never a judge of what they pay for.
        linked: participants the fraud signals link to the contributor.
        seen: validator ids ever assigned this item: never the same validator twice.
    """
    parties = {contributor, requester, *linked}
    return [c for c in candidates if c.participant_id not in parties and c.validator_id not in seen]


def weighted_draw(candidates: Sequence[Candidate], n: int, rng: random.Random) -> list[Candidate]:
    """Draw ``n`` distinct candidates at random, each with odds in proportion to its reputation.

    Efraimidis–Spirakis: give each a key ``u ** (1 / weight)`` and keep the ``n`` largest; this is a
    weighted draw without replacement in one pass. Fewer than ``n`` candidates: all of them.
    """
    if n <= 0:
        return []
    keyed = [(math.log(rng.random() or 1e-300) / max(c.reputation, 1e-9), c) for c in candidates]
    keyed.sort(key=lambda pair: pair[0], reverse=True)
    return [c for _, c in keyed[:n]]


def jury_size(k: int) -> int:
    """An appeal's jury: 2k + 1 validators, odd so a majority always exists."""
    return 2 * k + 1


def appeal_verdict(answers: Sequence[ReviewAnswer], size: int) -> ReviewAnswer | None:
    """The jury's majority once one side has more than half of ``size`` votes; None until then."""
    needed = size // 2 + 1
    for answer in (ReviewAnswer.ACCEPT, ReviewAnswer.REJECT):
        if sum(1 for a in answers if a is answer) >= needed:
            return answer
    return None


def slots_wanted(*, k: int, votes: int, max_votes: int) -> int:
    """How many votes an open item should have in hand or on the way: k, then one more at a time."""
    if votes < k:
        return k
    return votes + 1 if votes < max_votes else votes


def check_labels(labels: Sequence[str], allowed: Collection[str]) -> list[str]:
    """The labels as sent: each once and from the task's set, else an error naming the first at fault.

    A repeated label is refused rather than dropped: the vote is signed over the labels as sent,
    so dropping one would check the signature over a list the validator never signed.
    """
    for i, label in enumerate(labels):
        if label in labels[:i]:
            raise Unprocessable(
                f"label {label!r} is listed twice; sign and send each label once", field=f"labels.{i}"
            )
        if label not in allowed:
            choices = ", ".join(sorted(allowed)) or "none (this task defines no labels)"
            raise InvalidInput(
                f"label {label!r} is not one of this task's labels: {choices}",
                field=f"labels.{i}",
                limit=sorted(allowed),
            )
    return list(labels)
