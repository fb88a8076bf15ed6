"""Putting validators on items: expiry, accounts linked to a contributor, and filling each item's slots.

Runs inside the caller's transaction. An item in review wants ``k`` votes, then one more at a time
while consensus is unsure; an appealed item wants a jury of ``2k + 1``. Open slots are drawn from the
staked, qualified, not excluded validators, weighted by reputation, never the contributor, never an
account linked to the contributor, never a validator who was ever assigned the item.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from datacoop.db.models import (
    Appeal,
    Blob,
    ReviewAssignment,
    ReviewOutcome,
    StageResultRow,
    Submission,
    Validator,
)
from datacoop.domain.review import (
    AssignmentKind,
    AssignmentStatus,
    Candidate,
    eligible,
    jury_size,
    slots_wanted,
    weighted_draw,
)
from datacoop.domain.submissions import SubmissionState
from datacoop.schemas import ReviewRules

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

    DataCoop stores no device or IP signals yet; what it has: the same file submitted by both,
    a blob uploaded by one and submitted by the other, and pre-screening's duplicate links
    (``stage_results.details.duplicate_of``) between their submissions.
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
    """Draw validators for every item in review that wants more; returns how many assignments were made."""
    expire_overdue(s, now)
    pool, addresses = _pool(s)
    if not pool:
        return 0
    items = s.scalars(
        select(Submission)
        .where(Submission.state == SubmissionState.IN_REVIEW.value)
        .order_by(Submission.id)
        .limit(FILL_BATCH)
        .with_for_update(of=Submission, skip_locked=True)  # PostgreSQL: two fills never share an item
    ).all()
    ids = [sub.id for sub in items]
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
    links: dict[int, set[int]] = {}
    made = 0
    for sub in items:
        appeal = appeals.get(sub.id)
        if sub.id in closed and appeal is None:
            continue
        if sub.contributor_id not in links:
            links[sub.contributor_id] = linked_accounts(s, sub.contributor_id)
        made += _fill_item(s, sub, appeal, pool, addresses, links[sub.contributor_id], now, ttl, rng)
    return made


def _fill_item(
    s: Session,
    sub: Submission,
    appeal: Appeal | None,
    pool: list[Candidate],
    addresses: dict[int, str],
    linked: set[int],
    now: datetime,
    ttl: timedelta,
    rng: random.Random,
) -> int:
    rules = review_rules(sub)
    assignments = s.scalars(select(ReviewAssignment).where(ReviewAssignment.submission_id == sub.id)).all()
    kind = AssignmentKind.APPEAL if appeal is not None else AssignmentKind.NORMAL
    live = [a for a in assignments if a.kind == kind.value and a.status != AssignmentStatus.EXPIRED.value]
    if appeal is not None:
        want = jury_size(rules.k)
    else:
        voted = sum(1 for a in live if a.status == AssignmentStatus.VOTED.value)
        want = slots_wanted(k=rules.k, votes=voted, max_votes=rules.max_votes)
    need = want - len(live)
    if need <= 0:
        return 0
    seen = {a.validator_id for a in assignments}
    chosen = weighted_draw(
        eligible(pool, contributor=sub.contributor_id, linked=linked, seen=seen), need, rng
    )
    s.add_all(_open(sub.id, c.validator_id, kind, now, ttl) for c in chosen)
    if appeal is not None and chosen:
        appeal.jury = [*appeal.jury, *(addresses[c.validator_id] for c in chosen)]
    return len(chosen)


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
