"""Putting validators on items: expiry, accounts linked to a contributor, and filling each item's slots.

Runs inside the caller's transaction. An item in review wants ``k`` votes, then one more at a time
while consensus is unsure; an appealed item wants a jury of ``2k + 1``. Open slots are drawn from the
staked, qualified, not excluded validators, weighted by reputation, never the contributor, never an
account linked to the contributor, never the task's requester, never a validator who was ever assigned
the item. An item consensus left unsure after ``k`` votes, with no slot open and nobody left who may
review it, goes to the requester now rather than waiting for a vote that cannot come.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Row, case, func, select, update
from sqlalchemy.orm import Session

from datacoop.db.models import (
    Appeal,
    Blob,
    ReviewAssignment,
    ReviewOutcome,
    StageResultRow,
    Submission,
    Task,
    Validator,
)
from datacoop.review.rules import (
    AssignmentKind,
    AssignmentStatus,
    Candidate,
    eligible,
    jury_size,
    slots_wanted,
    weighted_draw,
)
from datacoop.tasks.schemas import ReviewRules
from datacoop.tasks.states import SubmissionState

__all__ = ["expire_overdue", "fill_slots", "linked_accounts", "review_rules"]

FILL_BATCH = 200  # items looked at per fill: the oldest first


def review_rules(sub: Submission) -> ReviewRules:
    return ReviewRules.model_validate(sub.task.rules.get("review") or {})


def expire_overdue(s: Session, now: datetime) -> None:
    """Open assignments past their deadline become expired; the next fill draws someone else."""
    s.execute(
        update(ReviewAssignment)
        .where(ReviewAssignment.status == AssignmentStatus.OPEN.value, ReviewAssignment.expires_at <= now)
        .values(status=AssignmentStatus.EXPIRED.value)
    )


def linked_accounts(s: Session, participant_id: int) -> set[int]:
    """Participants the fraud signals on record tie to this one.

    The same file submitted by both, a blob uploaded by one and submitted by the other,
    pre-screening's duplicate links (``stage_results.details.duplicate_of``) between their
    submissions, and submissions sent from one device (``submissions.device_hash``).
    """
    mine = s.execute(select(Submission.id, Submission.cid).where(Submission.contributor_id == participant_id))
    my_ids, my_cids = set(), set()
    for sid, cid in mine:
        my_ids.add(sid)
        my_cids.add(cid)
    linked: set[int | None] = set()
    if my_cids:
        linked |= set(s.scalars(select(Submission.contributor_id).where(Submission.cid.in_(my_cids))))
        linked |= set(s.scalars(select(Blob.uploader_id).where(Blob.cid.in_(my_cids))))
    uploaded = select(Blob.cid).where(Blob.uploader_id == participant_id)
    linked |= set(s.scalars(select(Submission.contributor_id).where(Submission.cid.in_(uploaded))))
    linked |= _duplicate_partners(s, my_ids)
    devices = select(Submission.device_hash).where(
        Submission.contributor_id == participant_id, Submission.device_hash.is_not(None)
    )
    linked |= set(s.scalars(select(Submission.contributor_id).where(Submission.device_hash.in_(devices))))
    linked.discard(participant_id)
    linked.discard(None)
    return {p for p in linked if p is not None}


def _duplicate_partners(s: Session, my_ids: set[int]) -> set[int | None]:
    if not my_ids:
        return set()
    rows = s.execute(
        select(StageResultRow.submission_id, StageResultRow.details).where(
            StageResultRow.stage == "duplicates", StageResultRow.verdict != "pass"
        )
    )
    partners: set[int] = set()
    for sid, details in rows:
        other = details.get("duplicate_of") if isinstance(details, dict) else None
        if not isinstance(other, int):
            continue
        if sid in my_ids:
            partners.add(other)
        elif other in my_ids:
            partners.add(sid)
    if not partners:
        return set()
    return set(s.scalars(select(Submission.contributor_id).where(Submission.id.in_(partners))))


def _pool(s: Session) -> tuple[list[Candidate], dict[int, str]]:
    rows = s.scalars(
        select(Validator).where(Validator.staked, Validator.qualified, Validator.excluded.is_(False))
    ).all()
    pool = [Candidate(v.id, v.participant_id, v.reputation) for v in rows]
    return pool, {v.id: v.participant.address for v in rows}


def fill_slots(s: Session, now: datetime, *, ttl: timedelta, rng: random.Random) -> int:
    """Draw validators for every item in review that wants more; returns how many assignments were made.

    Called on every request for work, so the batch is read in a few column queries: the database
    counts each item's live and voted slots, and only an item short of validators has its seen
    validators and its contributor's linked accounts looked up.
    """
    expire_overdue(s, now)
    pool, addresses = _pool(s)
    if not pool:
        return 0
    batch = _batch(s)
    short = _short_items(s, batch) if batch else []
    if not short:
        return 0
    seen = _seen_validators(s, [item.submission_id for item in short])
    links: dict[int, set[int]] = {}  # contributor -> linked accounts, looked up once per contributor
    made = 0
    for item in short:
        candidates = _candidates(s, pool, item, seen[item.submission_id], links)
        chosen = weighted_draw(candidates, item.need, rng)
        if not chosen and item.unsure and item.open_slots == 0:
            _escalate(s, item.submission_id, now)
        _assign(s, item, chosen, addresses, now, ttl)
        made += len(chosen)
    return made


def _escalate(s: Session, submission_id: int, now: datetime) -> None:
    """Every eligible validator has voted and consensus is still unsure: the requester decides."""
    outcome = s.get(ReviewOutcome, submission_id)
    if outcome is not None and outcome.status == "open":
        outcome.status, outcome.updated_at = "escalated", now


@dataclass(frozen=True)
class _Short:
    """An item short of validators: its parties, the kind of slot it wants, how many, and its open appeal."""

    submission_id: int
    contributor_id: int
    requester_id: int
    kind: AssignmentKind
    need: int
    appeal: Appeal | None
    open_slots: int = 0  # assigned, not yet voted
    unsure: bool = False  # a normal item past its first k votes: consensus asked for another


def _batch(s: Session) -> Sequence[Row[int, int, int, int]]:
    """The oldest items in review: (item, task, contributor, requester), locked for this fill."""
    return s.execute(
        select(Submission.id, Submission.task_id, Submission.contributor_id, Task.requester_id)
        .join(Task, Task.id == Submission.task_id)
        .where(Submission.state == SubmissionState.IN_REVIEW.value)
        .order_by(Submission.id)
        .limit(FILL_BATCH)
        .with_for_update(of=Submission, skip_locked=True)  # PostgreSQL: two fills never share an item
    ).all()


def _short_items(s: Session, batch: Sequence[Row[int, int, int, int]]) -> list[_Short]:
    """The items of the batch that want more validators than they have live, in batch order."""
    ids = [sid for sid, _, _, _ in batch]
    closed = set(
        s.scalars(
            select(ReviewOutcome.submission_id).where(
                ReviewOutcome.submission_id.in_(ids), ReviewOutcome.status != "open"
            )
        )
    )
    appeals = {
        a.submission_id: a
        for a in s.scalars(select(Appeal).where(Appeal.submission_id.in_(ids), Appeal.status == "open"))
    }
    counts = _slot_counts(s, ids)
    rules = _rules_of_tasks(s, {task_id for _, task_id, _, _ in batch})
    short: list[_Short] = []
    for sid, task_id, contributor_id, requester_id in batch:
        appeal = appeals.get(sid)
        if sid in closed and appeal is None:
            continue
        kind = AssignmentKind.APPEAL if appeal is not None else AssignmentKind.NORMAL
        live, voted = counts.get((sid, kind.value), (0, 0))
        need = _wanted(rules[task_id], kind, voted) - live
        if need > 0:
            unsure = kind is AssignmentKind.NORMAL and voted >= rules[task_id].k
            short.append(_Short(sid, contributor_id, requester_id, kind, need, appeal, live - voted, unsure))
    return short


def _seen_validators(s: Session, ids: list[int]) -> dict[int, set[int]]:
    """item -> every validator ever assigned it (in any status or kind)."""
    seen: dict[int, set[int]] = {sid: set() for sid in ids}
    for item, validator_id in s.execute(
        select(ReviewAssignment.submission_id, ReviewAssignment.validator_id).where(
            ReviewAssignment.submission_id.in_(ids)
        )
    ):
        if item is not None:  # always: the query picks these items
            seen[item].add(validator_id)
    return seen


def _candidates(
    s: Session, pool: list[Candidate], item: _Short, seen: set[int], links: dict[int, set[int]]
) -> list[Candidate]:
    """The pool less the item's parties, the contributor's linked accounts and its past validators."""
    if item.contributor_id not in links:
        links[item.contributor_id] = linked_accounts(s, item.contributor_id)
    return eligible(
        pool,
        contributor=item.contributor_id,
        requester=item.requester_id,
        linked=links[item.contributor_id],
        seen=seen,
    )


def _assign(
    s: Session,
    item: _Short,
    chosen: list[Candidate],
    addresses: dict[int, str],
    now: datetime,
    ttl: timedelta,
) -> None:
    """Open a slot for each chosen validator; an appeal's jury names them."""
    s.add_all(_open(item.submission_id, c.validator_id, item.kind, now, ttl) for c in chosen)
    if item.appeal is not None and chosen:
        item.appeal.jury = [*item.appeal.jury, *(addresses[c.validator_id] for c in chosen)]


def _slot_counts(s: Session, ids: list[int]) -> dict[tuple[int, str], tuple[int, int]]:
    """(item, kind) -> (live slots: open or voted, voted slots), counted by the database."""
    live = case((ReviewAssignment.status != AssignmentStatus.EXPIRED.value, 1), else_=0)
    voted = case((ReviewAssignment.status == AssignmentStatus.VOTED.value, 1), else_=0)
    rows = s.execute(
        select(ReviewAssignment.submission_id, ReviewAssignment.kind, func.sum(live), func.sum(voted))
        .where(ReviewAssignment.submission_id.in_(ids))
        .group_by(ReviewAssignment.submission_id, ReviewAssignment.kind)
    )
    return {(sid, kind): (int(live), int(voted)) for sid, kind, live, voted in rows if sid is not None}


def _rules_of_tasks(s: Session, task_ids: set[int]) -> dict[int, ReviewRules]:
    rows = s.execute(select(Task.id, Task.rules).where(Task.id.in_(task_ids)))
    return {task_id: ReviewRules.model_validate((rules or {}).get("review") or {}) for task_id, rules in rows}


def _wanted(rules: ReviewRules, kind: AssignmentKind, voted: int) -> int:
    """How many votes an item wants in hand or on the way: a jury for an appeal, else k and one more."""
    if kind is AssignmentKind.APPEAL:
        return jury_size(rules.k)
    return slots_wanted(k=rules.k, votes=voted, max_votes=rules.max_votes)


def _open(
    submission_id: int, validator_id: int, kind: AssignmentKind, now: datetime, ttl: timedelta
) -> ReviewAssignment:
    return ReviewAssignment(
        submission_id=submission_id,
        validator_id=validator_id,
        kind=kind.value,
        status=AssignmentStatus.OPEN.value,
        created_at=now,
        expires_at=now + ttl,
    )


def close_open(
    s: Session, submission_id: int, kinds: Iterable[AssignmentKind] = tuple(AssignmentKind)
) -> None:
    """An item that needs no more votes: its open assignments end (a late vote is refused as such)."""
    s.execute(
        update(ReviewAssignment)
        .where(
            ReviewAssignment.submission_id == submission_id,
            ReviewAssignment.status == AssignmentStatus.OPEN.value,
            ReviewAssignment.kind.in_([k.value for k in kinds]),
        )
        .values(status=AssignmentStatus.EXPIRED.value)
    )
