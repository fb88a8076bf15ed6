"""Earnings: the ledger of what each accepted item and each useful vote earned, before any epoch pays it.

When an epoch closes, every accepted submission of the task that has no earning yet earns its
contributor the task's reward per item, and every useful vote the review service reports earns its
validator that vote's reward, once per vote and validator. An earning waits (no epoch) until an
epoch takes it; a failed epoch hands its earnings back to wait again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from datacoop.db.models import Earning, Participant, Submission, Task
from datacoop.identity.addresses import normalize_address
from datacoop.tasks.states import SubmissionState

__all__ = ["VoteReward", "VoteRewards", "no_votes", "record_earnings", "waiting_earnings"]


@dataclass(frozen=True)
class VoteReward:
    """A useful vote's reward, as the review service reports it."""

    vote_id: int
    task_id: int
    validator: str
    amount: int


VoteRewards = Callable[[Session, int], Iterable[VoteReward]]
"""The review service's useful-vote rewards for a task, read in the caller's session."""


def no_votes(_s: Session, _task_id: int) -> list[VoteReward]:
    """The vote rewards of a node without review: none."""
    return []


def record_earnings(s: Session, task_id: int, now: datetime, vote_rewards: VoteRewards) -> None:
    """Add an earning for each newly accepted item and each new useful vote of the task."""
    task = s.get(Task, task_id)
    assert task is not None
    if task.reward_per_item > 0:
        _record_items(s, task, now)
    for reward in vote_rewards(s, task_id):
        if reward.amount > 0:
            _record_vote(s, task_id, reward, now)
    s.flush()


def waiting_earnings(s: Session, task_id: int) -> Sequence[Earning]:
    """The task's earnings in no epoch yet, oldest first."""
    return s.scalars(
        select(Earning).where(Earning.task_id == task_id, Earning.epoch_id.is_(None)).order_by(Earning.id)
    ).all()


def _record_items(s: Session, task: Task, now: datetime) -> None:
    """An item earning for each accepted submission of the task that has none yet."""
    accepted = s.execute(
        select(Submission.id, Participant.address)
        .join(Participant, Participant.id == Submission.contributor_id)
        .where(Submission.task_id == task.id, Submission.state == SubmissionState.ACCEPTED.value)
        .where(~select(Earning.id).where(Earning.kind == "item", Earning.source_id == Submission.id).exists())
        .order_by(Submission.id)
    ).all()
    s.add_all(
        Earning(
            task_id=task.id,
            account=normalize_address(address),
            kind="item",
            source_id=sub_id,
            amount=task.reward_per_item,
            created_at=now,
        )
        for sub_id, address in accepted
    )


def _record_vote(s: Session, task_id: int, reward: VoteReward, now: datetime) -> None:
    """A vote earning for ``reward``, unless its validator already has one for that vote."""
    account = normalize_address(reward.validator)
    known = s.scalar(
        select(Earning.id).where(
            Earning.kind == "vote", Earning.source_id == reward.vote_id, Earning.account == account
        )
    )
    if known is None:
        s.add(
            Earning(
                task_id=task_id,
                account=account,
                kind="vote",
                source_id=reward.vote_id,
                amount=reward.amount,
                created_at=now,
            )
        )
