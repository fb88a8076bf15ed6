"""SQLAlchemy models: the tables every DataCoop database has.

The migrations under ``migrations/versions`` create exactly these tables; a
test compares the two on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from datacoop.db.types import Uint256, UtcDateTime

__all__ = [
    "AuthNonce",
    "AuthSession",
    "Base",
    "Blob",
    "ChainTx",
    "Participant",
    "Prescreen",
    "ScreeningJob",
    "StageResultRow",
    "Submission",
    "SubmissionEvent",
    "Task",
]

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime,
        dict[str, Any]: JSON,
        list[str]: JSON,
    }
    metadata = MetaData(naming_convention=NAMING)


class Participant(Base):
    __tablename__ = "participants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    address: Mapped[str] = mapped_column(String(42), unique=True)  # EIP-55 checksummed
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]


class AuthNonce(Base):
    """A SIWE nonce the server issued; single use, with a TTL."""

    __tablename__ = "auth_nonces"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class AuthSession(Base):
    """A signed-in session; only the SHA-256 of its bearer token is stored."""

    __tablename__ = "auth_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), index=True)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]

    participant: Mapped[Participant] = relationship(lazy="joined", innerjoin=True)


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


class ChainTx(Base):
    """A transaction DataCoop means to send: the transactional outbox.

    Written in the same database transaction as the change that wants it, keyed
    by an idempotency key, so a restart can never make a second transaction for
    the same intent. The relay gives it a nonce once, stores the signed bytes
    before broadcasting, and re-broadcasts or fee-bumps under that same nonce.
    """

    __tablename__ = "chain_txs"
    __table_args__ = (
        UniqueConstraint("chain_id", "sender", "nonce", name="uq_chain_txs_sender_nonce"),
        Index("ix_chain_txs_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    sender: Mapped[str] = mapped_column(String(42))
    to: Mapped[str | None] = mapped_column(String(42))  # None deploys a contract
    data: Mapped[str] = mapped_column(Text)
    value: Mapped[int] = mapped_column(Uint256)
    nonce: Mapped[int | None] = mapped_column(BigInteger)
    gas_limit: Mapped[int | None] = mapped_column(BigInteger)
    max_fee: Mapped[int | None] = mapped_column(Uint256)
    priority_fee: Mapped[int | None] = mapped_column(Uint256)
    raw: Mapped[str | None] = mapped_column(Text)  # the signed bytes last broadcast
    tx_hash: Mapped[str | None] = mapped_column(String(66), index=True)
    hashes: Mapped[list[str]]  # every hash sent under this nonce: any of them may be mined
    status: Mapped[str] = mapped_column(String(16))
    block_number: Mapped[int | None] = mapped_column(BigInteger)
    block_hash: Mapped[str | None] = mapped_column(String(66))
    contract_address: Mapped[str | None] = mapped_column(String(42))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ScreeningJob(Base):
    """A submission waiting for, or under, pre-screening: the work queue's source of truth.

    Written in the same transaction as the submission. A worker leases it; a lease that
    runs out (the worker died) makes it available again, so no job is ever lost.
    """

    __tablename__ = "screening_jobs"
    __table_args__ = (Index("ix_screening_jobs_status_lease", "status", "lease_until"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), unique=True)
    status: Mapped[str] = mapped_column(String(16))  # queued | running | done
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class StageResultRow(Base):
    """What one stage said of one submission."""

    __tablename__ = "stage_results"
    __table_args__ = (UniqueConstraint("submission_id", "stage", name="uq_stage_results_submission_stage"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    stage: Mapped[str] = mapped_column(String(40))
    position: Mapped[int] = mapped_column(Integer)
    verdict: Mapped[str] = mapped_column(String(16))
    score: Mapped[float | None]
    reasons: Mapped[list[str]]
    details: Mapped[dict[str, Any]]
    artifacts: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class Prescreen(Base):
    """The one final pre-screening outcome of a submission (unique: a re-run can never add a second)."""

    __tablename__ = "prescreens"

    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(16))  # rejected | in_review | accepted
    reasons: Mapped[list[str]]
    phash: Mapped[int | None] = mapped_column(BigInteger)  # signed 64-bit view of the perceptual hash
    scrubbed_cid: Mapped[str | None] = mapped_column(String(100))
    worker: Mapped[str | None] = mapped_column(String(100))
    completed_at: Mapped[datetime]
