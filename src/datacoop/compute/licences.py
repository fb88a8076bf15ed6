"""The port "may this buyer run compute on this version?", with the database-backed default.

The exchange (issue 8) sells licences; when an order for the compute-to-data or federated access
mode settles, it calls :meth:`DatabaseLicences.grant` (or the node is given another
:class:`ComputeLicences` that asks the exchange's own tables or the chain).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from datacoop.db.models import ComputeLicence, DatasetVersion
from datacoop.domain.identity import normalize_address
from datacoop.errors import InvalidInput, NotFound

__all__ = ["UNITS", "ComputeLicences", "DatabaseLicences", "LicenceGrant"]

UNITS = ("job", "round")


@dataclass(frozen=True)
class LicenceGrant:
    """A licence that covers one use: its id (None when not a row of ours), unit and price per unit."""

    id: int | None
    unit: str
    price: int


class ComputeLicences(Protocol):
    """Answers, inside the caller's transaction, whether ``buyer`` may use ``unit`` on ``version_id`` now."""

    def licence_for(
        self, s: Session, buyer: str, version_id: int, unit: str, now: datetime
    ) -> LicenceGrant | None: ...


class DatabaseLicences:
    """Licences kept in ``compute_licences``: unexpired, for this buyer, version and unit."""

    def licence_for(
        self, s: Session, buyer: str, version_id: int, unit: str, now: datetime
    ) -> LicenceGrant | None:
        row = s.scalar(
            select(ComputeLicence)
            .where(
                ComputeLicence.buyer == normalize_address(buyer),
                ComputeLicence.version_id == version_id,
                ComputeLicence.unit == unit,
                or_(ComputeLicence.expires_at.is_(None), ComputeLicence.expires_at > now),
            )
            .order_by(ComputeLicence.id.desc())
            .limit(1)
        )
        return LicenceGrant(row.id, row.unit, int(row.price)) if row is not None else None

    @staticmethod
    def grant(
        s: Session, *, version_id: int, buyer: str, unit: str, price: int, source: str, now: datetime,
        expires_at: datetime | None = None, token: str | None = None,
    ) -> ComputeLicence:  # fmt: skip
        """Record a licence (the exchange calls this when a compute order settles)."""
        if unit not in UNITS:
            raise InvalidInput(f"unit must be one of {', '.join(UNITS)}", field="unit", limit=list(UNITS))
        if price < 0 or price >= 2**256:
            raise InvalidInput("price must be 0 to 2**256 - 1 token base units", field="price")
        if s.get(DatasetVersion, version_id) is None:
            raise NotFound(f"there is no dataset version {version_id}", field="version_id")
        row = ComputeLicence(
            version_id=version_id, buyer=normalize_address(buyer), unit=unit, price=price, token=token,
            source=source, expires_at=expires_at, created_at=now,
        )  # fmt: skip
        s.add(row)
        s.flush()
        return row
