"""Tables of compute-to-data: licences, jobs, usage, release policies, ε spent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from datacoop.db.models._base import Base
from datacoop.db.types import Uint256

__all__ = ["ComputeJob", "ComputeLicence", "ComputePolicy", "ComputeUsage", "PrivacySpend"]


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
