"""Community review: validators' queues, signed votes, gold items, escalation and appeals.

One use case per method, one transaction each. The rules live in :mod:`datacoop.review.rules`,
the draws in :mod:`datacoop.review.draws`, the consensus and its consequences in
:mod:`datacoop.review.outcomes`; stakes come through the :class:`StakeReader` port.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError as SAIntegrityError
from sqlalchemy.orm import Session

from datacoop.clock import Clock, utc_now
from datacoop.db import Database
from datacoop.db.models import (
    Appeal,
    GoldItem,
    Participant,
    ReviewAssignment,
    ReviewVote,
    Submission,
    Task,
    Validator,
    ValidatorReward,
)
from datacoop.errors import Conflict, Forbidden, Gone, NotFound
from datacoop.identity.eip712 import AppealMessage, Eip712Domain, VoteMessage, verify_signer
from datacoop.review import appeals as review_appeals
from datacoop.review import gold as review_gold
from datacoop.review.draws import fill_slots
from datacoop.review.outcomes import judge, record_gold, settle_appeal
from datacoop.review.rules import AssignmentKind, AssignmentStatus, Qualification, ReviewAnswer, check_labels
from datacoop.review.schemas import (
    AppealCreate,
    AppealPublic,
    GoldItemCreate,
    GoldItemPublic,
    RequesterDecision,
    ReviewItem,
    ReviewStatus,
    ValidatorPublic,
    VoteCreate,
    VotePublic,
)
from datacoop.review.slashing import SlashingDesk
from datacoop.review.stakes import StakeReader
from datacoop.screening.schemas import PrescreenReport
from datacoop.tasks.disclosure import shared_cid, shared_report
from datacoop.tasks.rules import TaskStatus
from datacoop.tasks.schemas import ReviewRules
from datacoop.tasks.service import load_task, task_public
from datacoop.tasks.states import SubmissionState

__all__ = ["ReviewService", "RewardDue"]


@dataclass(frozen=True)
class RewardDue:
    """A useful vote's reward, for settlement to pay (the shape its ``vote_rewards`` port takes)."""

    vote_id: int
    task_id: int
    validator: str
    amount: int


class ReviewService:
    """Community review over one database.

    Args:
        stakes: reads a validator's stake (the chain's ValidatorStaking, or a stand-in).
        min_stake: the stake a validator needs, in token base units.
        ttl: how long an assignment stays open before it is reassigned.
        report: the pre-screen report of a submission (ScreeningService.report).
        rng: the draws' randomness (seed it in tests).
        slashing: executes slashing proposals on chain (none: proposals are only recorded).
    """

    def __init__(
        self,
        db: Database,
        domain: Eip712Domain,
        stakes: StakeReader,
        *,
        min_stake: int,
        ttl: timedelta,
        qualification: Qualification,
        report: Callable[[int], dict[str, Any]],
        clock: Clock = utc_now,
        rng: random.Random | None = None,
        slashing: SlashingDesk | None = None,
    ) -> None:
        self._db, self.domain, self.stakes = db, domain, stakes
        self.slashing = slashing or SlashingDesk(db, None, amount=1, clock=clock)
        self.min_stake, self.ttl, self.qualification = min_stake, ttl, qualification
        self._report, self._clock = report, clock
        self.rng = rng or random.SystemRandom()

    # --- validators -------------------------------------------------------------------------

    def enrol(self, who: Participant) -> ValidatorPublic:
        """Check the caller's stake and make or refresh their validator record."""
        stake = self.stakes.stake_of(who.address)
        now = self._clock()
        with self._db.transaction() as s:
            v = s.scalar(select(Validator).where(Validator.participant_id == who.id))
            if v is None:
                v = Validator(
                    participant_id=who.id,
                    staked=False,
                    qualified=False,
                    excluded=False,
                    reputation=0.5,
                    gold_answered=0,
                    gold_correct=0,
                    decided_votes=0,
                    agreed_votes=0,
                    created_at=now,
                    updated_at=now,
                )
                try:
                    with s.begin_nested():  # a concurrent first call may win the unique participant
                        s.add(v)
                except SAIntegrityError:
                    v = _validator_of(s, who)
            staked = stake >= self.min_stake
            if v.staked != staked:  # written only on a change: most calls come from enrolled validators
                v.staked, v.updated_at = staked, now
                s.flush()
            public = _validator_public(v, who.address)
        if not public.staked:
            raise Forbidden(
                f"stake at least {self.min_stake} token base units in ValidatorStaking to review "
                f"(staked now: {stake})",
                field="stake",
                limit=str(self.min_stake),
            )
        if public.excluded:
            raise Forbidden("excluded from review: gold accuracy stayed below the floor", field="validator")
        return public

    # --- the queue --------------------------------------------------------------------------

    def next_for(self, who: Participant) -> ReviewItem | None:
        """The caller's next item (real or gold, alike), or None when nothing is waiting for them."""
        self.enrol(who)
        now = self._clock()
        with self._db.transaction() as s:
            v = _validator_of(s, who)
            fill_slots(s, now, ttl=self.ttl, rng=self.rng)
            chosen = self._choose(s, v)
            if chosen is None:
                return None
            s.flush()
            task, cid, gold_report, sid = self._item_of(s, chosen)
            served = (chosen.id, task_public(task), cid, chosen.expires_at)
        report = PrescreenReport.model_validate(
            gold_report if sid is None else shared_report(self._report(sid))
        )
        assignment_id, task_view, cid, expires_at = served
        return ReviewItem(
            assignment_id=assignment_id,
            task=task_view,
            cid=cid,
            download=f"/v1/reviews/{assignment_id}/content",
            prescreen=report,
            expires_at=expires_at,
        )

    def _choose(self, s: Session, v: Validator) -> ReviewAssignment | None:
        mine = s.scalars(
            select(ReviewAssignment)
            .where(
                ReviewAssignment.validator_id == v.id, ReviewAssignment.status == AssignmentStatus.OPEN.value
            )
            .order_by(ReviewAssignment.id)
        ).all()
        gold = [a for a in mine if a.kind == AssignmentKind.GOLD.value]
        if gold:
            return gold[0]
        if not v.qualified:
            return self._new_gold(s, v, task_id=None)
        real = [a for a in mine if a.kind != AssignmentKind.GOLD.value]
        if not real:
            return None
        task_id, rules = s.execute(
            select(Task.id, Task.rules)
            .join(Submission, Submission.task_id == Task.id)
            .where(Submission.id == real[0].submission_id)
        ).one()
        gold_rate = ReviewRules.model_validate(rules.get("review") or {}).gold_rate
        if self.rng.random() < gold_rate:  # mixed in unseen: the item looks the same
            return self._new_gold(s, v, task_id=task_id) or real[0]
        return real[0]

    def _new_gold(self, s: Session, v: Validator, *, task_id: int | None) -> ReviewAssignment | None:
        seen = select(ReviewAssignment.gold_item_id).where(
            ReviewAssignment.validator_id == v.id, ReviewAssignment.gold_item_id.is_not(None)
        )
        query = (
            select(GoldItem.id)
            .join(Task, Task.id == GoldItem.task_id)
            .where(Task.status == TaskStatus.OPEN.value, Task.requester_id != v.participant_id)
            .where(GoldItem.id.not_in(seen))
        )
        if task_id is not None:
            query = query.where(GoldItem.task_id == task_id)
        candidates = list(s.scalars(query.order_by(GoldItem.id)))
        if not candidates:
            return None
        now = self._clock()
        row = ReviewAssignment(
            gold_item_id=self.rng.choice(candidates),
            validator_id=v.id,
            kind=AssignmentKind.GOLD.value,
            status=AssignmentStatus.OPEN.value,
            created_at=now,
            expires_at=now + self.ttl,
        )
        s.add(row)
        return row

    @staticmethod
    def _item_of(s: Session, a: ReviewAssignment) -> tuple[Task, str, dict[str, Any], int | None]:
        if a.gold_item_id is not None:
            gold = s.get(GoldItem, a.gold_item_id)
            assert gold is not None
            return load_task(s, gold.task_id), gold.cid, gold.report, None
        sub = s.get(Submission, a.submission_id)
        assert sub is not None
        return sub.task, shared_cid(s, sub.id), {}, sub.id

    def content(self, who: Participant, assignment_id: int) -> str:
        """The CID of an item assigned to the caller (the route streams its bytes).

        The stake is read again now: an assignment outlives neither an unbonding nor an exclusion.
        """
        self.enrol(who)
        with self._db.transaction() as s:
            a = self._assignment_of(s, who, assignment_id)
            return self._item_of(s, a)[1]

    @staticmethod
    def _assignment_of(s: Session, who: Participant, assignment_id: int) -> ReviewAssignment:
        a = s.get(ReviewAssignment, assignment_id)
        v = s.scalar(select(Validator).where(Validator.participant_id == who.id))
        if a is None or v is None or a.validator_id != v.id:  # the same answer either way: nothing leaks
            raise NotFound(f"you have no assignment {assignment_id}", field="assignment_id")
        return a

    # --- votes ------------------------------------------------------------------------------

    def vote(self, who: Participant, assignment_id: int, body: VoteCreate) -> VotePublic:
        """Record a signed vote on one of the caller's open assignments, then act on the consensus."""
        self.enrol(who)
        now = self._clock()
        with self._db.transaction() as s:
            a = self._assignment_of(s, who, assignment_id)
            task, sub = self._votable(s, who, a)
            labels = check_labels(body.labels, review_rules_of(task).labels)
            message = VoteMessage(
                validator=who.address,
                task_id=task.id,
                assignment_id=a.id,
                decision=body.decision,
                labels=_labels_text(labels),
                nonce=body.nonce,
            )
            digest = verify_signer(self.domain, message, body.signature, expected_signer=who.address)
            row = ReviewVote(
                assignment_id=a.id,
                submission_id=a.submission_id,
                gold_item_id=a.gold_item_id,
                validator_id=a.validator_id,
                kind=a.kind,
                decision=body.decision,
                labels=labels,
                nonce=body.nonce,
                signature=body.signature,
                digest=digest,
                created_at=now,
            )
            _insert_once(s, row)
            a.status = AssignmentStatus.VOTED.value
            self._after_vote(s, a, sub, ReviewAnswer(body.decision))
            s.flush()
            return VotePublic(
                id=row.id,
                assignment_id=a.id,
                decision=body.decision,
                labels=labels,
                digest=digest,
                created_at=now,
            )

    def _votable(self, s: Session, who: Participant, a: ReviewAssignment) -> tuple[Task, Submission | None]:
        now = self._clock()
        if a.status == AssignmentStatus.VOTED.value:
            raise Conflict(f"you already voted on assignment {a.id}", field="assignment_id")
        if a.status == AssignmentStatus.EXPIRED.value or a.expires_at <= now:
            raise Gone(
                f"assignment {a.id} is closed (it expired at {a.expires_at.isoformat()} or the item "
                "needs no more votes); ask for the next item",
                field="assignment_id",
                limit=a.expires_at.isoformat(),
            )
        if a.gold_item_id is not None:
            gold = s.get(GoldItem, a.gold_item_id)
            assert gold is not None
            return load_task(s, gold.task_id), None
        sub = s.get(Submission, a.submission_id, with_for_update={"of": Submission})
        assert sub is not None
        if sub.contributor_id == who.id:
            raise Forbidden("you cannot vote on your own item", field="assignment_id")
        if sub.state != SubmissionState.IN_REVIEW.value:
            raise Gone(f"the review of this item is closed ({sub.state})", field="assignment_id")
        return sub.task, sub

    def _after_vote(
        self, s: Session, a: ReviewAssignment, sub: Submission | None, answer: ReviewAnswer
    ) -> None:
        now = self._clock()
        v = s.get(Validator, a.validator_id)
        assert v is not None
        if sub is None:
            gold = s.get(GoldItem, a.gold_item_id)
            assert gold is not None
            record_gold(s, v, answer.value == gold.answer, self.qualification, now)
            return
        if a.kind == AssignmentKind.APPEAL.value:
            appeal = s.scalar(select(Appeal).where(Appeal.submission_id == sub.id))
            assert appeal is not None
            settle_appeal(s, sub, appeal, now)
            return
        s.flush()
        judge(s, sub, now)

    # --- gold items -------------------------------------------------------------------------

    def add_gold(self, who: Participant, task_id: int, body: GoldItemCreate) -> GoldItemPublic:
        """A requester adds a blob they uploaded to their task, with a known answer (see review_gold)."""
        with self._db.transaction() as s:
            return review_gold.add_gold(s, who, task_id, body, self._clock())

    def list_gold(self, who: Participant, task_id: int) -> list[GoldItemPublic]:
        with self._db.transaction() as s:
            return review_gold.list_gold(s, who, task_id)

    # --- escalation and appeals (rules in review_appeals) ----------------------------------

    def status(self, submission_id: int, viewer: Participant, *, operator: bool = False) -> ReviewStatus:
        """Where review stands (its contributor, its task's requester and the operator; others 404)."""
        with self._db.transaction() as s:
            return review_appeals.status(s, submission_id, viewer, operator=operator)

    def decide(self, who: Participant, submission_id: int, body: RequesterDecision) -> ReviewStatus:
        """The requester settles an item the validators could not (escalated)."""
        with self._db.transaction() as s:
            return review_appeals.requester_decides(s, who, submission_id, body, self._clock())

    def appeal(self, who: Participant, submission_id: int, body: AppealCreate) -> AppealPublic:
        """The contributor appeals a rejection, once: the item goes back to review before a fresh jury."""
        now = self._clock()
        with self._db.transaction() as s:
            digest = verify_signer(
                self.domain,
                AppealMessage(
                    contributor=who.address, submission_id=submission_id, reason=body.reason, nonce=body.nonce
                ),
                body.signature,
                expected_signer=who.address,
            )
            appeal = review_appeals.open_appeal(s, who, submission_id, body, digest, now)
            fill_slots(s, now, ttl=self.ttl, rng=self.rng)
            return review_appeals.appeal_public(appeal)

    def get_appeal(self, submission_id: int, viewer: Participant, *, operator: bool = False) -> AppealPublic:
        """The appeal, to the same parties as the submission; jurors are named once it is final."""
        with self._db.transaction() as s:
            return review_appeals.get_appeal(s, submission_id, viewer, operator=operator)

    # --- for settlement ---------------------------------------------------------------------

    @staticmethod
    def vote_rewards(s: Session, task_id: int) -> list[RewardDue]:
        """Every useful vote's reward on a task, read in the caller's session (settlement's port)."""
        rows = s.scalars(
            select(ValidatorReward)
            .where(ValidatorReward.task_id == task_id)
            .order_by(ValidatorReward.vote_id)
        )
        return [RewardDue(r.vote_id, r.task_id, r.validator, r.amount) for r in rows]


def review_rules_of(task: Task) -> ReviewRules:
    return ReviewRules.model_validate(task.rules.get("review") or {})


def _labels_text(labels: list[str]) -> str:
    return json.dumps(labels, separators=(",", ":"), ensure_ascii=False)


def _insert_once(s: Session, row: ReviewVote) -> None:
    try:
        with s.begin_nested():
            s.add(row)
    except SAIntegrityError:
        raise Conflict(
            "this vote was already recorded: one vote per validator per item, each signature once",
            field="assignment_id",
        ) from None


def _validator_of(s: Session, who: Participant) -> Validator:
    v = s.scalar(select(Validator).where(Validator.participant_id == who.id))
    if v is None:
        raise NotFound("you are not a validator yet: GET /v1/reviews/me enrols you", field="validator")
    return v


def _validator_public(v: Validator, address: str) -> ValidatorPublic:
    return ValidatorPublic(
        address=address,
        staked=v.staked,
        qualified=v.qualified,
        excluded=v.excluded,
        reputation=v.reputation,
        gold_answered=v.gold_answered,
        gold_correct=v.gold_correct,
    )
