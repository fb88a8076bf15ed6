"""Community review: validators' queues, signed votes, gold items, escalation and appeals.

One use case per method, one transaction each. The queue (enrolment, the next item, its content)
is :mod:`datacoop.review.queue`, votes are :mod:`datacoop.review.votes`, gold items
:mod:`datacoop.review.gold`, escalation and appeals :mod:`datacoop.review.appeals`; the rules live
in :mod:`datacoop.review.rules`, the draws in :mod:`datacoop.review.draws`, the consensus and its
consequences in :mod:`datacoop.review.outcomes`; stakes come through the :class:`StakeReader` port.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from datacoop.clock import Clock, utc_now
from datacoop.db import Database
from datacoop.db.models import ValidatorReward
from datacoop.identity.eip712 import AppealMessage, Eip712Domain, verify_signer
from datacoop.identity.schemas import Caller
from datacoop.review import appeals as review_appeals
from datacoop.review import gold as review_gold
from datacoop.review.draws import fill_slots
from datacoop.review.queue import ReviewQueue
from datacoop.review.rules import Qualification
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
from datacoop.review.votes import ReviewVotes

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
        self._clock = clock
        self.rng = rng or random.SystemRandom()
        # the parts read stakes, min_stake, ttl, qualification and rng from here at every call:
        # tests and the demo replace them on the service after it is built
        self._queue = ReviewQueue(db, self, report=report, clock=clock)
        self._votes = ReviewVotes(db, domain, self, self._queue, clock=clock)

    # --- validators and the queue (review.queue) ----------------------------------------------

    def enrol(self, who: Caller) -> ValidatorPublic:
        """Check the caller's stake and make or refresh their validator record."""
        return self._queue.enrol(who)

    def next_for(self, who: Caller) -> ReviewItem | None:
        """The caller's next item (real or gold, alike), or None when nothing is waiting for them."""
        return self._queue.next_for(who)

    def content(self, who: Caller, assignment_id: int) -> str:
        """The CID of an item assigned to the caller (the route streams its bytes).

        The stake is read again now: an assignment outlives neither an unbonding nor an exclusion.
        """
        return self._queue.content(who, assignment_id)

    # --- votes (review.votes) -----------------------------------------------------------------

    def vote(self, who: Caller, assignment_id: int, body: VoteCreate) -> VotePublic:
        """Record a signed vote on one of the caller's open assignments, then act on the consensus."""
        return self._votes.vote(who, assignment_id, body)

    # --- gold items -------------------------------------------------------------------------

    def add_gold(self, who: Caller, task_id: int, body: GoldItemCreate) -> GoldItemPublic:
        """A requester adds a blob they uploaded to their task, with a known answer (see review_gold)."""
        with self._db.transaction() as s:
            return review_gold.add_gold(s, who, task_id, body, self._clock())

    def list_gold(
        self, who: Caller, task_id: int, *, after: int | None = None, limit: int | None = None
    ) -> list[GoldItemPublic]:
        with self._db.transaction() as s:
            return review_gold.list_gold(s, who, task_id, after=after, limit=limit)

    # --- escalation and appeals (rules in review_appeals) ----------------------------------

    def status(self, submission_id: int, viewer: Caller, *, operator: bool = False) -> ReviewStatus:
        """Where review stands (its contributor, its task's requester and the operator; others 404)."""
        with self._db.transaction() as s:
            return review_appeals.status(s, submission_id, viewer, operator=operator)

    def decide(self, who: Caller, submission_id: int, body: RequesterDecision) -> ReviewStatus:
        """The requester settles an item the validators could not (escalated)."""
        with self._db.transaction() as s:
            return review_appeals.requester_decides(s, who, submission_id, body, self._clock())

    def appeal(self, who: Caller, submission_id: int, body: AppealCreate) -> AppealPublic:
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

    def get_appeal(self, submission_id: int, viewer: Caller, *, operator: bool = False) -> AppealPublic:
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
