"""Tables of identity: participants, sign-in nonces, sessions, rate-limit counters."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from datacoop.db.models._base import Base

__all__ = ["AuthNonce", "AuthSession", "Participant", "RateLimitCounter"]


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
