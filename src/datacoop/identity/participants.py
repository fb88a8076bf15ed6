"""Participants: an EVM address is the identity; rows are made on first sight."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError as SAIntegrityError
from sqlalchemy.orm import Session

from datacoop.db.models import Participant
from datacoop.identity.addresses import did_pkh
from datacoop.identity.schemas import Caller

__all__ = ["as_caller", "get_or_create"]


def get_or_create(session: Session, address: str, now: datetime) -> Participant:
    """The participant row for a checksummed address, created if new (race-safe)."""
    found = session.scalar(select(Participant).where(Participant.address == address))
    if found is not None:
        found.last_seen_at = now
        return found
    row = Participant(address=address, created_at=now, last_seen_at=now)
    try:
        with session.begin_nested():  # a concurrent first sign-in may win the unique constraint
            session.add(row)
    except SAIntegrityError:
        return session.scalars(select(Participant).where(Participant.address == address)).one()
    return row


def as_caller(row: Participant, chain_id: int) -> Caller:
    """``row`` as the frozen :class:`Caller` the services take (its did on chain ``chain_id``)."""
    return Caller(id=row.id, address=row.address, did=did_pkh(chain_id, row.address))
