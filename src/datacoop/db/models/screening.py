"""Tables of pre-screening: jobs, stage results, final reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from datacoop.db.models._base import Base

__all__ = ["ItemFeatures", "Prescreen", "ScreeningJob", "StageResultRow"]


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


class ItemFeatures(Base):
    """One submission's feature vector, computed once by pre-screening, for its task's relevance model.

    ``vector`` is float32 little-endian bytes (``dims`` of them): a MiniLM embedding for text, classic
    colour and shape features for an image. ``p_accept`` is the task model's latest calibrated
    probability, which orders the review queue (likely off-topic first); None until it has one.
    """

    __tablename__ = "item_features"

    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), primary_key=True)
    model: Mapped[str] = mapped_column(String(40))
    dims: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    p_accept: Mapped[float | None]
    created_at: Mapped[datetime]
