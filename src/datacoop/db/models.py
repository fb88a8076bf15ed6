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
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from datacoop.db.types import Uint256, UtcDateTime

# A posting (an epoch, a royalty round) that is neither confirmed nor failed.
_OPEN = text("status IN ('pending', 'posted')")

__all__ = [
    "Appeal",
    "AuditAnchor",
    "AuditEntry",
    "AuditHead",
    "AuthNonce",
    "AuthSession",
    "Base",
    "Blob",
    "ChainLease",
    "ChainTx",
    "ComputeJob",
    "ComputeLicence",
    "ComputeUsage",
    "Dataset",
    "DatasetItem",
    "DatasetVersion",
    "GoldItem",
    "Listing",
    "Order",
    "Participant",
    "Prescreen",
    "RateLimitCounter",
    "ReviewAssignment",
    "ReviewOutcome",
    "ReviewVote",
    "RoyaltyEntitlement",
    "RoyaltyRound",
    "ScreeningJob",
    "SlashingProposal",
    "StageResultRow",
    "Submission",
    "SubmissionEvent",
    "Task",
    "Validator",
    "ValidatorReward",
    "Withdrawal",
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
    # Optimistic lock: a writer that read an older version of the row fails its UPDATE (StaleDataError)
    # instead of overwriting a newer nonce, signature or status.
    version: Mapped[int] = mapped_column(Integer, server_default="1")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - read once by the mapper


class ChainLease(Base):
    """Who may write the outbox now: one holder at a time, until ``expires_at`` unless renewed."""

    __tablename__ = "chain_leases"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(200))
    expires_at: Mapped[datetime | None]


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


class TaskFunding(Base):
    """A task's budget on chain: the TaskEscrow task the requester opened for it."""

    __tablename__ = "task_funding"
    __table_args__ = (
        UniqueConstraint("chain_id", "escrow", "escrow_task_id", name="uq_task_funding_escrow_task"),
    )

    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), primary_key=True)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    escrow: Mapped[str] = mapped_column(String(42))
    escrow_task_id: Mapped[int] = mapped_column(Uint256)
    token: Mapped[str] = mapped_column(String(42))
    linked_at: Mapped[datetime]


class Epoch(Base):
    """One posting of a task's cumulative entitlements: pending → posted → confirmed (or failed)."""

    __tablename__ = "epochs"
    __table_args__ = (
        Index("ix_epochs_task_number", "task_id", "number"),
        # One epoch of a task is posting at a time: a second close at the same moment fails here.
        Index("uq_epochs_one_open", "task_id", unique=True, sqlite_where=_OPEN, postgresql_where=_OPEN),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"))
    number: Mapped[int] = mapped_column(Integer)  # the epoch on chain; a failed attempt's number is reused
    status: Mapped[str] = mapped_column(String(16), index=True)
    root: Mapped[str] = mapped_column(String(66))
    total: Mapped[int] = mapped_column(Uint256)  # cumulative, as posted on chain
    added: Mapped[int] = mapped_column(Uint256)  # what this epoch adds
    earnings: Mapped[int] = mapped_column(Integer)
    shortfall: Mapped[int] = mapped_column(Uint256)  # earnings left waiting for a top-up
    tx_key: Mapped[str] = mapped_column(String(200), unique=True)
    tx_hash: Mapped[str | None] = mapped_column(String(66))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class EpochEntitlement(Base):
    """An account's cumulative entitlement in one epoch's tree (the tree is rebuilt from these)."""

    __tablename__ = "epoch_entitlements"

    epoch_id: Mapped[int] = mapped_column(ForeignKey("epochs.id"), primary_key=True)
    account: Mapped[str] = mapped_column(String(42), primary_key=True, index=True)
    cumulative: Mapped[int] = mapped_column(Uint256)


class Earning(Base):
    """What one accepted item or one useful vote earns its author; an epoch takes it exactly once."""

    __tablename__ = "earnings"
    __table_args__ = (
        UniqueConstraint("kind", "source_id", "account", name="uq_earnings_kind_source_account"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), index=True)
    account: Mapped[str] = mapped_column(String(42), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # item | vote
    source_id: Mapped[int] = mapped_column(Integer)  # the submission (item) or the vote
    amount: Mapped[int] = mapped_column(Uint256)
    epoch_id: Mapped[int | None] = mapped_column(ForeignKey("epochs.id"), index=True)
    created_at: Mapped[datetime]


# --- community review (issue 5) ---------------------------------------------------------------


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


class Dataset(Base):
    """A dataset: a query over accepted items, frozen into immutable versions (services/datasets.py)."""

    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("participants.id"), index=True)  # None: operator
    query: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    token_id: Mapped[int | None] = mapped_column(Uint256)  # its DatasetRegistry token, once created on chain
    create_tx_key: Mapped[str | None] = mapped_column(String(200))


class DatasetVersion(Base):
    """One frozen version: its manifest blob, Merkle root and where its anchoring on chain stands."""

    __tablename__ = "dataset_versions"
    __table_args__ = (UniqueConstraint("dataset_id", "number", name="uq_dataset_versions_dataset_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    manifest_cid: Mapped[str] = mapped_column(ForeignKey("blobs.cid"))
    items_root: Mapped[str] = mapped_column(String(66))
    item_count: Mapped[int] = mapped_column(Integer)
    changes: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    anchor_status: Mapped[str] = mapped_column(String(16))  # off | pending | confirmed | failed
    anchor_tx_key: Mapped[str | None] = mapped_column(String(200))
    anchor_tx_hash: Mapped[str | None] = mapped_column(String(66))
    chain_version: Mapped[int | None] = mapped_column(Integer)  # its number in DatasetRegistry
    anchor_error: Mapped[str | None] = mapped_column(Text)


class DatasetItem(Base):
    """A submission in a version, at its manifest index (what the next version is compared with)."""

    __tablename__ = "dataset_items"

    version_id: Mapped[int] = mapped_column(ForeignKey("dataset_versions.id"), primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer)


class Withdrawal(Base):
    """A contributor's withdrawal of consent: the item leaves every later version."""

    __tablename__ = "withdrawals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), unique=True)
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]


class AuditEntry(Base):
    """One row of the append-only, hash-chained audit log (``services/audit.py`` writes and checks it)."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)  # 1, 2, 3 …
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100), index=True)
    subject: Mapped[str] = mapped_column(String(200), index=True)
    details: Mapped[dict[str, Any]]
    prev_hash: Mapped[str] = mapped_column(String(66))
    hash: Mapped[str] = mapped_column(String(66), unique=True)


class AuditHead(Base):
    """The audit log's newest (seq, hash) in one row: appends lock it, so there is one chain."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # always 1
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(66))


class AuditAnchor(Base):
    """A head of the audit log to anchor on chain, and where that stands."""

    __tablename__ = "audit_anchors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, index=True)
    head_hash: Mapped[str] = mapped_column(String(66))
    created_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))  # pending | sent | confirmed | failed
    tx_hash: Mapped[str | None] = mapped_column(String(66))
    note: Mapped[str | None] = mapped_column(Text)


class Listing(Base):
    """A dataset version offered for sale on LicenseMarket (services/exchange.py lists and sells it)."""

    __tablename__ = "listings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("dataset_versions.id"), index=True)
    publisher_id: Mapped[int | None] = mapped_column(ForeignKey("participants.id"))  # None: operator
    title: Mapped[str] = mapped_column(String(200))
    modality: Mapped[str] = mapped_column(String(16), index=True)
    item_count: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    origins: Mapped[list[str]]  # the items' jurisdictions of origin
    token: Mapped[str] = mapped_column(String(42))
    price: Mapped[int] = mapped_column(Uint256)
    licence: Mapped[str] = mapped_column(String(100), index=True)
    terms_text: Mapped[str] = mapped_column(Text)
    terms_hash: Mapped[str] = mapped_column(String(66))
    duration_s: Mapped[int] = mapped_column(BigInteger)
    royalty_bps: Mapped[int] = mapped_column(Integer)
    access_modes: Mapped[list[str]]
    jurisdictions: Mapped[list[str]]  # buyer jurisdictions offered to; ["*"]: anywhere
    data_category: Mapped[str] = mapped_column(String(32))
    consent_scope: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))  # pending | listed | failed
    tx_key: Mapped[str] = mapped_column(String(200), unique=True)
    tx_hash: Mapped[str | None] = mapped_column(String(66))
    market_listing_id: Mapped[int | None] = mapped_column(Uint256)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Order(Base):
    """A licence bought on chain and the access it grants (the compliant items only)."""

    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id"), index=True)
    buyer_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), index=True)
    buyer: Mapped[str] = mapped_column(String(42))
    tx_hash: Mapped[str] = mapped_column(String(66), unique=True)
    licence_id: Mapped[int] = mapped_column(Uint256, unique=True)
    expires: Mapped[int] = mapped_column(BigInteger)  # unix seconds, from the LicenceSold event
    amount: Mapped[int] = mapped_column(Uint256)
    royalty: Mapped[int] = mapped_column(Uint256)
    publisher_share: Mapped[int] = mapped_column(Uint256)
    operator_fee: Mapped[int] = mapped_column(Uint256)
    jurisdiction: Mapped[str] = mapped_column(String(2))
    purpose: Mapped[str] = mapped_column(String(100))
    safeguards: Mapped[list[str]]
    granted: Mapped[list[str]]  # manifest indices (as text) the buyer may download
    withheld: Mapped[dict[str, Any]]  # manifest index -> {outcome, rule, legal_basis, explanation}
    forward_tx_key: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]


class RoyaltyRound(Base):
    """One posting of a listing's cumulative royalty root (like settlement's epochs)."""

    __tablename__ = "royalty_rounds"
    __table_args__ = (
        # One round of a listing is posting at a time: a second opened at the same moment fails here.
        Index("uq_royalty_rounds_one_open", "listing_id", unique=True, sqlite_where=_OPEN,
              postgresql_where=_OPEN),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # pending | posted | confirmed | failed
    credited: Mapped[int] = mapped_column(Uint256)  # the pool's credited royalties this root shares out
    total: Mapped[int] = mapped_column(Uint256)
    root: Mapped[str] = mapped_column(String(66))
    tx_key: Mapped[str] = mapped_column(String(200), unique=True)
    tx_hash: Mapped[str | None] = mapped_column(String(66))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class RoyaltyEntitlement(Base):
    """A contributor's cumulative royalty in one round."""

    __tablename__ = "royalty_entitlements"

    round_id: Mapped[int] = mapped_column(ForeignKey("royalty_rounds.id"), primary_key=True)
    account: Mapped[str] = mapped_column(String(42), primary_key=True, index=True)
    cumulative: Mapped[int] = mapped_column(Uint256)


class ComputeLicence(Base):
    """A buyer's right to run compute jobs or federated rounds on one version (the default port's table).

    The exchange grants these when an order for a compute access mode settles; ``price`` is per
    ``unit`` (``job`` or ``round``).
    """

    __tablename__ = "compute_licences"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("dataset_versions.id"), index=True)
    buyer: Mapped[str] = mapped_column(String(42), index=True)  # EIP-55 checksummed
    unit: Mapped[str] = mapped_column(String(16))  # job | round
    price: Mapped[int] = mapped_column(Uint256)
    token: Mapped[str | None] = mapped_column(String(42))
    source: Mapped[str] = mapped_column(String(200))  # e.g. "order:12" or "operator"
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class ComputeJob(Base):
    """A compute-to-data job: the buyer's algorithm against one version, queued, run in a sandbox, checked."""

    __tablename__ = "compute_jobs"
    __table_args__ = (Index("ix_compute_jobs_status_lease", "status", "lease_until"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    buyer_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("dataset_versions.id"), index=True)
    licence_id: Mapped[int | None] = mapped_column(ForeignKey("compute_licences.id"))
    algorithm_cid: Mapped[str] = mapped_column(String(100))
    algorithm_name: Mapped[str] = mapped_column(String(200))
    entry: Mapped[str] = mapped_column(String(200))
    requirements: Mapped[list[str]]
    status: Mapped[str] = mapped_column(String(16))  # queued | running | done
    outcome: Mapped[str | None] = mapped_column(String(16))  # released | withheld | stopped | failed
    reason: Mapped[str | None] = mapped_column(Text)
    log: Mapped[str | None] = mapped_column(Text)
    outputs: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [{name, cid, size}]
    isolation: Mapped[dict[str, Any]]
    seconds: Mapped[float | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class ComputeUsage(Base):
    """One billable use of a compute licence (a job run, or a node's federated round), for settlement."""

    __tablename__ = "compute_usage"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    licence_id: Mapped[int | None] = mapped_column(ForeignKey("compute_licences.id"), index=True)
    buyer: Mapped[str] = mapped_column(String(42), index=True)
    version_id: Mapped[int] = mapped_column(Integer)
    unit: Mapped[str] = mapped_column(String(16))  # job | round
    subject: Mapped[str] = mapped_column(String(200))  # "compute_job:7" or "federated_run:3/round:2"
    quantity: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(Uint256)
    created_at: Mapped[datetime]
    settled_at: Mapped[datetime | None]
    settlement_ref: Mapped[str | None] = mapped_column(String(200))


class ComputePolicy(Base):
    """How a version's compute outputs may leave (set by its publisher): ``approved`` or ``open``.

    See :class:`datacoop.compute.release.ReleasePolicy` for the meaning of each field.
    """

    __tablename__ = "compute_policies"

    version_id: Mapped[int] = mapped_column(ForeignKey("dataset_versions.id"), primary_key=True)
    mode: Mapped[str] = mapped_column(String(16))  # approved | open
    rules: Mapped[dict[str, Any]]  # the rest of ReleasePolicy (hashes, shapes, budget, DP)
    set_by: Mapped[str] = mapped_column(String(42))
    updated_at: Mapped[datetime]


class PrivacySpend(Base):
    """The ε one released open-mode job spent, counted per buyer and dataset against its budget."""

    __tablename__ = "compute_privacy_spend"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    buyer: Mapped[str] = mapped_column(String(42), index=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), index=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("compute_jobs.id"), unique=True)
    epsilon: Mapped[float]
    created_at: Mapped[datetime]


class RateLimitCounter(Base):
    """Requests one caller made under one limit in one fixed window: shared by every API process.

    ``key`` is ``<limit>:<address|client>:<who>``; ``window_start`` is unix seconds divided by
    the window's length. One UPSERT counts a request; windows older than the last are purged.
    """

    __tablename__ = "rate_limit_counters"
    __table_args__ = (Index("ix_rate_limit_counters_window_start", "window_start"),)

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hits: Mapped[int] = mapped_column(Integer)
