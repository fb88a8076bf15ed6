"""The port "may this buyer run compute on this version?": grants in the database, held on chain.

The exchange sells licences as tokens; when an order for the compute-to-data or federated access
mode settles, it calls :func:`grant_for_order`, which records :meth:`DatabaseLicences.grant` (source
``order:<id>``). A node with a chain uses :class:`ChainLicences`: such a grant holds only while the
order's licence token is the buyer's and unexpired *on chain now* (``LicenseMarket.isLicenceValid``,
the check downloads make), so a licence passed on with ``transferFrom`` takes its compute rights
with it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from datacoop.chain.contracts import LicenseMarket
from datacoop.db import Database
from datacoop.db.models import ComputeLicence, DatasetVersion, Listing, Order
from datacoop.errors import InvalidInput, NotFound, Unavailable
from datacoop.identity.addresses import normalize_address

__all__ = [
    "UNITS",
    "ChainLicences",
    "ComputeLicences",
    "DatabaseLicences",
    "LicenceCheck",
    "LicenceGrant",
    "grant_for_order",
]

UNITS = ("job", "cpu_second", "round")  # compute-to-data is priced per job or per CPU-second


@dataclass(frozen=True)
class LicenceGrant:
    """A licence that covers one use: its id (None when not a row of ours), unit and price per unit."""

    id: int | None
    unit: str
    price: int


@dataclass(frozen=True)
class LicenceCheck:
    """What was asked, before the caller's transaction, about ``buyer``'s grants for ``version_id``.

    ``units`` are tried in order, each unit's grants newest first. ``cleared``: the ids of the grants
    from orders whose licence token the chain said the buyer holds now; None when no chain stands
    behind any grant (every unexpired grant counts).
    """

    buyer: str
    version_id: int
    units: tuple[str, ...]
    now: datetime
    cleared: frozenset[int] | None = None


class ComputeLicences(Protocol):
    """Whether ``buyer`` may use one of ``units`` on ``version_id`` now, in two steps: :meth:`check`
    before the caller's transaction (any chain I/O happens there), :meth:`licence_for` inside it."""

    def check(
        self, db: Database, buyer: str, version_id: int, units: Sequence[str], now: datetime
    ) -> LicenceCheck: ...

    def licence_for(self, s: Session, check: LicenceCheck) -> LicenceGrant | None: ...


class DatabaseLicences:
    """Licences kept in ``compute_licences``: unexpired, for this buyer, version and unit."""

    def check(
        self, db: Database, buyer: str, version_id: int, units: Sequence[str], now: datetime
    ) -> LicenceCheck:
        """Nothing to ask outside the database: every unexpired grant counts."""
        return LicenceCheck(buyer, version_id, tuple(units), now)

    def licence_for(self, s: Session, check: LicenceCheck) -> LicenceGrant | None:
        """The first unit's newest grant that counts (a grant from an order: only if the check cleared it)."""
        for unit in check.units:
            for row in self._rows(s, check.buyer, check.version_id, unit, check.now):
                if check.cleared is None or not _from_order(row) or row.id in check.cleared:
                    return LicenceGrant(row.id, row.unit, int(row.price))
        return None

    @staticmethod
    def _rows(s: Session, buyer: str, version_id: int, unit: str, now: datetime) -> Sequence[ComputeLicence]:
        """Unexpired grants for this buyer, version and unit, newest first."""
        return s.scalars(
            select(ComputeLicence)
            .where(
                ComputeLicence.buyer == normalize_address(buyer),
                ComputeLicence.version_id == version_id,
                ComputeLicence.unit == unit,
                or_(ComputeLicence.expires_at.is_(None), ComputeLicence.expires_at > now),
            )
            .order_by(ComputeLicence.id.desc())
        ).all()

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


@dataclass(frozen=True)
class _Candidate:
    """One grant as read before asking the chain: its order's licence token (None: the order is gone)."""

    id: int
    holder: str
    from_order: bool
    licence_id: int | None


class ChainLicences(DatabaseLicences):
    """Grants from the database; one that came from an order also needs its licence token held now.

    ``market`` gives the node's LicenseMarket, or None when it runs without a chain (then an
    order's grant cannot be checked and counts for nothing: fail closed). The chain is asked in
    :meth:`check`, after its own short read of the grants and outside any transaction; a grant from
    an order that appears between the check and the caller's transaction counts for nothing.
    """

    def __init__(self, market: Callable[[], LicenseMarket | None]) -> None:
        self._market = market

    def check(
        self, db: Database, buyer: str, version_id: int, units: Sequence[str], now: datetime
    ) -> LicenceCheck:
        """Ask the chain about the grants in :meth:`licence_for`'s order, up to the first one held."""
        with db.transaction() as s:
            candidates = [
                self._candidate(s, row)
                for unit in units
                for row in self._rows(s, buyer, version_id, unit, now)
            ]
        cleared: set[int] = set()
        for candidate in candidates:
            if not candidate.from_order:
                break  # the operator's own grant (`datacoop compute grant`): no token behind it
            if self._held(candidate):
                cleared.add(candidate.id)
                break
        return LicenceCheck(buyer, version_id, tuple(units), now, frozenset(cleared))

    @staticmethod
    def _candidate(s: Session, row: ComputeLicence) -> _Candidate:
        if not _from_order(row):
            return _Candidate(row.id, row.buyer, from_order=False, licence_id=None)
        order = s.get(Order, int(row.source.removeprefix("order:")))
        licence_id = int(order.licence_id) if order is not None else None
        return _Candidate(row.id, row.buyer, from_order=True, licence_id=licence_id)

    def _held(self, candidate: _Candidate) -> bool:
        market = self._market()
        if candidate.licence_id is None or market is None:
            return False
        try:
            return market.is_licence_valid(candidate.licence_id, candidate.holder)
        except Exception as exc:
            raise Unavailable(
                f"the chain could not say whether licence {candidate.licence_id} is still held: {exc}",
                field="licence",
            ) from exc


def _from_order(row: ComputeLicence) -> bool:
    return row.source.startswith("order:")


_UNIT_OF_MODE = {"compute_to_data": "job", "federated": "round"}


def grant_for_order(s: Session, listing: Listing, order: Order, now: datetime) -> None:
    """A licence offering remote access also licenses compute jobs or federated rounds, until it expires."""
    for mode, unit in _UNIT_OF_MODE.items():
        if mode in listing.access_modes:
            DatabaseLicences.grant(
                s, version_id=listing.version_id, buyer=order.buyer, unit=unit, price=0,
                source=f"order:{order.id}", now=now, expires_at=datetime.fromtimestamp(order.expires, UTC),
            )  # fmt: skip
