"""Tables of the audit log: entries, the head, on-chain anchors."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from datacoop.db.models._base import Base

__all__ = ["AuditAnchor", "AuditEntry", "AuditHead"]


class AuditEntry(Base):
    """One row of the append-only, hash-chained audit log (``audit/log.py`` writes and checks it)."""

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
