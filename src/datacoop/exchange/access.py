"""Access to a bought order: the signed download URL and the delivery, checked on chain per request.

See :mod:`datacoop.exchange.service` for the whole flow. :class:`OrderAccess` is the delivery half
of :class:`~datacoop.exchange.orders.ExchangeOrders`, which composes it: a buyer asks for a
short-lived signed URL of their order's export; each request on that URL re-checks the licence on
chain (holder, listing, expiry) before a byte is sent, and is written to the audit log.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta

from datacoop.audit.log import AuditLog
from datacoop.chain.contracts import LicenseMarket
from datacoop.clock import Clock
from datacoop.datasets.exporting import TarArchive
from datacoop.datasets.manifest import canonical_json
from datacoop.datasets.service import DatasetService
from datacoop.db import Database
from datacoop.db.models import Dataset, DatasetVersion, Order
from datacoop.errors import Forbidden, Gone
from datacoop.exchange.delivery import DeliveryClaim, check_caller, parse_range, read_token, sign_token
from datacoop.exchange.order_rows import listing_row, order_json, own_order
from datacoop.exchange.schemas import DownloadLink
from datacoop.identity.addresses import normalize_address
from datacoop.identity.schemas import Caller

__all__ = ["Delivery", "OrderAccess"]


@dataclass(frozen=True)
class Delivery:
    """An allowed download: the export's size and the bytes of the asked range."""

    order_id: int
    size: int
    start: int
    end: int
    chunks: Iterator[bytes]


class OrderAccess:
    """Signed download URLs of orders and their delivery (``market`` gives the node's LicenseMarket)."""

    def __init__(
        self,
        db: Database,
        datasets: DatasetService,
        audit: AuditLog,
        market: Callable[[], LicenseMarket],
        *,
        secret: str,
        url_ttl: timedelta,
        clock: Clock,
    ) -> None:
        self._db, self._datasets, self._audit, self._market = db, datasets, audit, market
        self._secret, self._ttl, self._clock = secret, url_ttl, clock

    def download_url(self, who: Caller, order_id: int) -> DownloadLink:
        """A short-lived signed URL of the order's export (the buyer only)."""
        now = self._clock()
        with self._db.transaction() as s:
            order = own_order(s, who, order_id)
            claim = DeliveryClaim(order.id, order.buyer, order.licence_id, int((now + self._ttl).timestamp()))
        token = sign_token(self._secret, claim)
        size = self._export(order_id).size
        return DownloadLink(url=f"/v1/deliveries/{token}", expires=claim.expires, size=size)

    def open_delivery(self, token: str, caller: Caller, range_header: str | None = None) -> Delivery:
        """Check the URL and the licence on chain, log the download, and return the asked bytes.

        Raises:
            Forbidden: (``token``) a link this node did not sign, or the caller is not its buyer;
                (``licence``) the licence is no longer
                held by the buyer, or licenses another listing or version.
            Gone: (``token``) the link expired; (``licence``) the licence expired on chain.
        """
        claim = read_token(self._secret, token, int(self._clock().timestamp()))
        check_caller(claim, caller.address)
        with self._db.transaction() as s:
            order = s.get(Order, claim.order_id)
            if order is None or order.buyer != claim.buyer or order.licence_id != claim.licence_id:
                raise Forbidden("this download link names no order of this node", field="token")
            listing = listing_row(s, order.listing_id)
            version = s.get(DatasetVersion, listing.version_id)
            assert version is not None
            dataset = s.get(Dataset, version.dataset_id)
            assert dataset is not None
            expected = (listing.market_listing_id, dataset.token_id, version.chain_version)
        self._check_licence(order, expected)
        export = self._export(order.id)
        start, end = parse_range(range_header, export.size) or (0, export.size - 1)
        with self._db.transaction() as s:
            self._audit.append(
                s,
                actor=order.buyer,
                action="exchange.download",
                subject=f"order:{order.id}",
                details={
                    "licence_id": str(order.licence_id),
                    "start": start,
                    "end": end,
                    "size": export.size,
                },
            )
        return Delivery(order.id, export.size, start, end, export.iter_range(start, end))

    def _check_licence(self, order: Order, expected: tuple[int | None, int | None, int | None]) -> None:
        market = self._market()
        holder, listing_id, dataset_id, version, _terms, expires = market.contract.functions.licenceOf(
            order.licence_id
        ).call()
        if (listing_id, dataset_id, version) != expected:
            raise Forbidden(
                f"licence {order.licence_id} is for market listing {listing_id} (dataset {dataset_id} "
                f"version {version}), not for this order's {expected[0]}",
                field="licence",
            )
        if int(holder, 16) == 0 or normalize_address(holder) != order.buyer:
            raise Forbidden(f"licence {order.licence_id} is no longer held by {order.buyer}", field="licence")
        if not market.is_licence_valid(order.licence_id, order.buyer):
            raise Gone(
                f"licence {order.licence_id} expired at {expires} (unix time)", field="licence", limit=expires
            )

    def _export(self, order_id: int) -> TarArchive:
        with self._db.transaction() as s:
            order = s.get(Order, order_id)
            assert order is not None
            listing = listing_row(s, order.listing_id)
            summary = canonical_json(order_json(order).model_dump() | {"licence": listing.licence})
            granted, version_id = [int(i) for i in order.granted], listing.version_id
        return self._datasets.export_archive(version_id, granted, [("order.json", summary)])
