"""Tables of tasks, blobs, submissions and their state events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
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

__all__ = ["Blob", "Submission", "SubmissionEvent", "Task"]


class Task(Base):
    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    modality: Mapped[str] = mapped_column(String(16))
    rules: Mapped[dict[str, Any]]
    reward_per_item: Mapped[int] = mapped_column(Uint256)
    target_count: Mapped[int] = mapped_column(Integer)
    deadline: Mapped[datetime]
    consent_text: Mapped[str] = mapped_column(Text)
    consent_hash: Mapped[str] = mapped_column(String(66))
    licence: Mapped[str] = mapped_column(String(200))
    allowed_jurisdictions: Mapped[list[str]]
    status: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[datetime]
    # The ERC-20 the task pays in, read from chain at creation; null on a node without a chain
    # (and for tasks older than 0014 until their funding is linked).
    token: Mapped[str | None] = mapped_column(String(42), default=None)
    token_symbol: Mapped[str | None] = mapped_column(String(16), default=None)
    token_decimals: Mapped[int | None] = mapped_column(Integer, default=None)

    requester: Mapped[Participant] = relationship(lazy="joined", innerjoin=True)


class Blob(Base):
    """A blob the store holds, written before any row that names it."""

    __tablename__ = "blobs"

    cid: Mapped[str] = mapped_column(String(100), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    profile: Mapped[str] = mapped_column(String(32))
    uploader_id: Mapped[int | None] = mapped_column(ForeignKey("participants.id"), index=True)
    created_at: Mapped[datetime]


class Submission(Base):
    __tablename__ = "submissions"
    # The replay guard: a contributor's nonce is consumed once, atomically, by this constraint.
    __table_args__ = (
        UniqueConstraint("contributor_id", "nonce", name="uq_submissions_contributor_nonce"),
        Index("ix_submissions_task_state", "task_id", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"))
    contributor_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), index=True)
    cid: Mapped[str] = mapped_column(ForeignKey("blobs.cid"), index=True)
    consent_hash: Mapped[str] = mapped_column(String(66))
    jurisdiction: Mapped[str] = mapped_column(String(2))
    nonce: Mapped[int] = mapped_column(Uint256)
    deadline: Mapped[int] = mapped_column(BigInteger)
    signature: Mapped[str] = mapped_column(String(132))
    digest: Mapped[str] = mapped_column(String(66), unique=True)  # EIP-712 digest, never the sig bytes
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # SHA-256 of the client's X-Device-Fingerprint, when it sent one (the raw value is never kept)
    device_hash: Mapped[str | None] = mapped_column(String(64), default=None, index=True)

    task: Mapped[Task] = relationship(lazy="joined", innerjoin=True)
    contributor: Mapped[Participant] = relationship(lazy="joined", innerjoin=True)
    events: Mapped[list[SubmissionEvent]] = relationship(
        order_by="SubmissionEvent.id", lazy="selectin", back_populates="submission"
    )


class SubmissionEvent(Base):
    """Every state change of a submission, append-only."""

    __tablename__ = "submission_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime]

    submission: Mapped[Submission] = relationship(back_populates="events")
