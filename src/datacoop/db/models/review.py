"""Tables of community review: validators, gold, assignments, votes, outcomes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from datacoop.db.models._base import Base
from datacoop.db.models.identity import Participant
from datacoop.db.types import Uint256

__all__ = [
    "Appeal",
    "GoldItem",
    "ReviewAssignment",
    "ReviewOutcome",
    "ReviewVote",
    "SlashingProposal",
    "Validator",
    "ValidatorReward",
]


class Validator(Base):
    """A participant who reviews: stake status, gold record, reputation (the draw weight)."""

    __tablename__ = "validators"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), unique=True)
    staked: Mapped[bool]  # the last stake check passed the node's minimum
    qualified: Mapped[bool]
    excluded: Mapped[bool]
    reputation: Mapped[float]
    gold_answered: Mapped[int] = mapped_column(Integer)
    gold_correct: Mapped[int] = mapped_column(Integer)
    decided_votes: Mapped[int] = mapped_column(Integer)  # votes on items that reached a final outcome
    agreed_votes: Mapped[int] = mapped_column(Integer)  # ... that agreed with it
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    participant: Mapped[Participant] = relationship(lazy="joined", innerjoin=True)


class GoldItem(Base):
    """A requester's item with a known answer, served like any other item and never paid or exported."""

    __tablename__ = "gold_items"
    __table_args__ = (UniqueConstraint("task_id", "cid", name="uq_gold_items_task_cid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), index=True)
    cid: Mapped[str] = mapped_column(ForeignKey("blobs.cid"))
    answer: Mapped[str] = mapped_column(String(8))  # accept | reject
    report: Mapped[dict[str, Any]]  # the pre-screen report shown with it, shaped like a real one
    created_at: Mapped[datetime]


class ReviewAssignment(Base):
    """One validator's slot on one item (a submission or a gold item) until it is voted or expires."""

    __tablename__ = "review_assignments"
    __table_args__ = (Index("ix_review_assignments_validator_status", "validator_id", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"), index=True)
    gold_item_id: Mapped[int | None] = mapped_column(ForeignKey("gold_items.id"), index=True)
    validator_id: Mapped[int] = mapped_column(ForeignKey("validators.id"))
    kind: Mapped[str] = mapped_column(String(8))  # normal | gold | appeal
    status: Mapped[str] = mapped_column(String(8), index=True)  # open | voted | expired
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class ReviewVote(Base):
    """A validator's signed verdict on one assigned item; one per validator per item."""

    __tablename__ = "review_votes"
    __table_args__ = (
        UniqueConstraint("submission_id", "validator_id", name="uq_review_votes_submission_validator"),
        UniqueConstraint("gold_item_id", "validator_id", name="uq_review_votes_gold_validator"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("review_assignments.id"), unique=True)
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"), index=True)
    gold_item_id: Mapped[int | None] = mapped_column(ForeignKey("gold_items.id"))
    validator_id: Mapped[int] = mapped_column(ForeignKey("validators.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    decision: Mapped[str] = mapped_column(String(8))  # accept | reject
    labels: Mapped[list[str]]
    nonce: Mapped[int] = mapped_column(Uint256)
    signature: Mapped[str] = mapped_column(String(132))
    digest: Mapped[str] = mapped_column(String(66), unique=True)
    created_at: Mapped[datetime]


class ReviewOutcome(Base):
    """Where a submission's review stands: open, final (with its answer) or escalated to the requester."""

    __tablename__ = "review_outcomes"

    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), index=True)  # open | final | escalated
    answer: Mapped[str | None] = mapped_column(String(8))
    posterior: Mapped[float | None]
    votes: Mapped[int] = mapped_column(Integer)
    decided_by: Mapped[str | None] = mapped_column(String(16))  # consensus | requester | appeal
    updated_at: Mapped[datetime]


class Appeal(Base):
    """A contributor's one appeal of a rejection, its jury and its final outcome."""

    __tablename__ = "appeals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), unique=True)
    reason: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(String(132))
    digest: Mapped[str] = mapped_column(String(66), unique=True)
    jury: Mapped[list[str]]  # the jurors' addresses
    status: Mapped[str] = mapped_column(String(16))  # open | final
    outcome: Mapped[str | None] = mapped_column(String(8))  # accept | reject
    created_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]


class ValidatorReward(Base):
    """What one useful vote (it agreed with the final outcome) earns; settlement pays it later."""

    __tablename__ = "validator_rewards"

    vote_id: Mapped[int] = mapped_column(ForeignKey("review_votes.id"), primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), index=True)
    validator: Mapped[str] = mapped_column(String(42))
    amount: Mapped[int] = mapped_column(Uint256)
    created_at: Mapped[datetime]


class SlashingProposal(Base):
    """A validator whose gold accuracy stayed below the floor: the operator may slash on chain."""

    __tablename__ = "slashing_proposals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    validator_id: Mapped[int] = mapped_column(ForeignKey("validators.id"), unique=True)
    reason: Mapped[str] = mapped_column(Text)
    reason_hash: Mapped[str] = mapped_column(String(66))
    status: Mapped[str] = mapped_column(String(16))  # proposed | sent | confirmed | failed
    tx_key: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
