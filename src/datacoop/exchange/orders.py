"""Orders: a purchase the node's chain watcher saw at the confirmation depth, recorded once, and the grant.

See :mod:`datacoop.exchange.service` for the whole flow; this module holds what a buyer meets
after paying: the order (recorded once per transaction and licence, only once the watcher keeps its
``LicenceSold`` event ``confirmations`` blocks deep, decided item by item by the compliance policy,
written to the audit log). Its download, checked on chain per request, is
:mod:`datacoop.exchange.access`, which :class:`ExchangeOrders` composes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy.exc
from sqlalchemy import select
from sqlalchemy.orm import Session

from datacoop.audit.log import AuditLog
from datacoop.chain.contracts import LicenseMarket, TestToken
from datacoop.chain.setup import ChainHandle, is_operator, require_chain
from datacoop.chain.watcher import ChainWatcher
from datacoop.clock import Clock, utc_now
from datacoop.compliance import (
    Buyer,
    ConsentScope,
    DataCategory,
    Exporter,
    Item,
    Outcome,
    PolicyEngine,
    Safeguard,
)
from datacoop.compliance._facts import parse_enum
from datacoop.compute.licences import grant_for_order
from datacoop.datasets.manifest import Manifest
from datacoop.datasets.service import DatasetService
from datacoop.db import Database
from datacoop.db.models import Listing, Order, Participant
from datacoop.errors import Conflict, DataCoopError, Forbidden, InvalidInput, NotFound
from datacoop.exchange.access import Delivery, OrderAccess
from datacoop.exchange.order_rows import listing_row, order_json, own_order
from datacoop.exchange.schemas import DownloadLink, OrderPublic
from datacoop.identity.addresses import normalize_address
from datacoop.identity.schemas import Caller
from datacoop.webhooks import events

__all__ = ["Delivery", "ExchangeOrders"]


class ExchangeOrders:
    """Orders and delivery of one node (the base of :class:`~datacoop.exchange.service.ExchangeService`)."""

    def __init__(
        self,
        db: Database,
        datasets: DatasetService,
        compliance: PolicyEngine,
        audit: AuditLog,
        chain: ChainHandle | None,
        *,
        secret: str,
        url_ttl: timedelta = timedelta(minutes=10),
        clock: Clock = utc_now,
        watcher: ChainWatcher | None = None,
    ) -> None:
        self._db, self._datasets, self._engine, self._watcher = db, datasets, compliance, watcher
        self._audit, self._chain, self._secret, self._ttl, self._clock = audit, chain, secret, url_ttl, clock
        self._access = OrderAccess(
            db, datasets, audit, self._market, secret=secret, url_ttl=url_ttl, clock=clock
        )

    def _need_chain(self) -> ChainHandle:
        return require_chain(self._chain, "nothing is sold")

    def _market(self) -> LicenseMarket:
        chain = self._need_chain()
        return LicenseMarket(chain.client, chain.deployment.market)

    def is_operator(self, address: str) -> bool:
        return is_operator(self._chain, normalize_address(address))

    def _enqueue(self, s: Session, key: str, to: str, data: str) -> None:
        self._need_chain().enqueue(s, key=key, to=to, data=data, now=self._clock())

    _listing = staticmethod(listing_row)
    _own_order = staticmethod(own_order)
    _order_json = staticmethod(order_json)

    def _try_round(self, listing_id: int) -> None:
        """Called after a sale is recorded; the royalty side opens a round there."""

    # --- orders -------------------------------------------------------------------------------

    def record_order(
        self,
        who: Caller,
        listing_id: int,
        tx_hash: str,
        jurisdiction: str,
        purpose: str,
        safeguards: list[str] | None = None,
    ) -> OrderPublic:
        """Record the purchase in ``tx_hash`` once the chain watcher holds it at the confirmation depth,
        and grant the compliant items.

        ``tx_hash`` only says which ``LicenceSold`` event to look for: what was bought, by whom and for
        how much is read from the event the node's own watcher kept (:mod:`datacoop.chain.watcher`),
        never from the client.

        Raises:
            Conflict: (``confirmations``) the purchase is not at the node's confirmation depth yet: ask
                again (``limit`` is the depth); (``tx_hash``) another participant already recorded it.
            NotFound: (``tx_hash``) the chain does not know the transaction.
            Forbidden: (``tx_hash``) it bought another listing, or someone else bought, or nothing on this
                node's market; (``jurisdiction``) the listing is not offered there.
        """
        buyer = Buyer(
            jurisdiction, purpose, frozenset(parse_enum(Safeguard, g, "safeguards") for g in safeguards or ())
        )
        watcher = self._need_watcher()
        with self._db.transaction() as s:
            listing = self._listing(s, listing_id)
            known = self._recorded(s, who, listing_id, tx_hash)
            if known is not None:
                return self._order_json(known)
            self._check_offered(listing, buyer)
            # How far the watcher has read, BEFORE looking for the sale: on PostgreSQL each statement sees
            # what was committed when it began, so read the other way round a block processed in between
            # would look read-without-a-sale and the purchase would be refused as buying nothing.
            processed = watcher.processed(s)
            event = watcher.final_event(s, "LicenceSold", tx_hash)
            sale = dict(event.args) if event is not None else None
            depth = watcher.depth_of(s, tx_hash)
        if sale is None:
            raise self._not_final(tx_hash, depth, processed)
        self._check_sale(listing, sale, tx_hash, who.address)
        granted, withheld = self._decide(listing, self._datasets.manifest(listing.version_id), buyer)
        market = self._market()
        with self._db.transaction() as s:
            row = self._insert_order(s, who, listing, tx_hash, sale, buyer, (granted, withheld))
            self._forward(s, market, listing, row)
            grant_for_order(s, listing, row, self._clock())
            self._log_grant(s, row)
            events.order_delivered(s, row, self._clock())  # the buyer's webhooks: the download is open
            return self._order_json(row)  # the chain follower opens the royalty round the sale made due

    def _need_watcher(self) -> ChainWatcher:
        self._need_chain()
        assert self._watcher is not None, "a node with a chain has a chain watcher (app.py)"
        return self._watcher

    def _not_final(self, tx_hash: str, depth: int | None, processed: int) -> DataCoopError:
        """Why ``tx_hash`` is no order yet; the chain's receipt is read only to say how long to wait."""
        need = self._need_watcher().confirmations
        if depth is not None:
            return Conflict(
                f"the purchase in {tx_hash} has {depth} of the {need} confirmations this node waits for: "
                f"ask again in {need - depth} block(s)",
                field="confirmations",
                limit=need,
            )
        receipt = self._need_chain().client.receipt(tx_hash)
        if receipt is None:
            return NotFound(f"the chain has no mined transaction {tx_hash}", field="tx_hash")
        if receipt.status != 1:
            return InvalidInput(f"transaction {tx_hash} reverted: nothing was bought", field="tx_hash")
        if processed - receipt.block_number + 1 >= need:  # read past the depth, and no sale of it kept
            return Forbidden(f"transaction {tx_hash} bought nothing on this node's market", field="tx_hash")
        return Conflict(
            f"the purchase in {tx_hash} (block {receipt.block_number}) is not read yet: this node has read "
            f"the chain up to block {processed} and waits for {need} confirmations; ask again shortly",
            field="confirmations",
            limit=need,
        )

    @staticmethod
    def _recorded(s: Session, who: Caller, listing_id: int, tx_hash: str) -> Order | None:
        """The order already recorded for ``tx_hash`` (asking again is harmless), if it is ``who``'s."""
        known = s.scalar(select(Order).where(Order.tx_hash == tx_hash.lower()))
        if known is not None and (known.buyer_id != who.id or known.listing_id != listing_id):
            raise Conflict(f"transaction {tx_hash} is already recorded as order {known.id}", field="tx_hash")
        return known

    @staticmethod
    def _check_offered(listing: Listing, buyer: Buyer) -> None:
        if "*" not in listing.jurisdictions and buyer.jurisdiction not in listing.jurisdictions:
            raise Forbidden(
                f"listing {listing.id} is offered to {', '.join(listing.jurisdictions)}, "
                f"not {buyer.jurisdiction}",
                field="jurisdiction",
            )

    def _insert_order(
        self,
        s: Session,
        who: Caller,
        listing: Listing,
        tx_hash: str,
        sale: dict[str, Any],
        buyer: Buyer,
        decision: tuple[list[str], dict[str, dict[str, str]]],
    ) -> Order:
        """Add the order row of ``sale``, once per licence and transaction."""
        if s.scalar(select(Order.id).where(Order.licence_id == int(sale["licenceId"]))) is not None:
            raise Conflict(f"licence {sale['licenceId']} is already recorded", field="tx_hash")
        granted, withheld = decision
        row = Order(
            listing_id=listing.id,
            buyer_id=who.id,
            buyer=normalize_address(who.address),
            tx_hash=tx_hash.lower(),
            licence_id=int(sale["licenceId"]),
            expires=int(sale["expires"]),
            amount=int(sale["amount"]),
            royalty=int(sale["royalty"]),
            publisher_share=int(sale["publisherShare"]),
            operator_fee=int(sale["operatorFee"]),
            jurisdiction=buyer.jurisdiction,
            purpose=buyer.purpose,
            safeguards=sorted(buyer.safeguards),
            granted=granted,
            withheld=withheld,
            created_at=self._clock(),
        )
        s.add(row)
        try:
            s.flush()
        except sqlalchemy.exc.IntegrityError:  # recorded at the same moment by another request
            raise Conflict(f"transaction {tx_hash} is already recorded", field="tx_hash") from None
        return row

    def _log_grant(self, s: Session, row: Order) -> None:
        self._audit.append(
            s,
            actor=row.buyer,
            action="exchange.grant",
            subject=f"order:{row.id}",
            details={
                "listing_id": row.listing_id,
                "licence_id": str(row.licence_id),
                "tx_hash": row.tx_hash,
                "jurisdiction": row.jurisdiction,
                "purpose": row.purpose,
                "granted": len(row.granted),
                "withheld": {k: v["rule"] for k, v in row.withheld.items()},
            },
        )

    @staticmethod
    def _check_sale(listing: Listing, sale: dict[str, Any], tx_hash: str, address: str) -> None:
        """The kept ``LicenceSold`` of ``tx_hash`` is a sale of ``listing`` to ``address``."""
        if listing.market_listing_id is None or int(sale["listingId"]) != int(listing.market_listing_id):
            raise Forbidden(
                f"transaction {tx_hash} bought a licence of market listing {sale['listingId']}, "
                f"not of listing {listing.id} (market listing {listing.market_listing_id})",
                field="tx_hash",
            )
        if normalize_address(sale["buyer"]) != normalize_address(address):
            raise Forbidden(
                f"transaction {tx_hash} was a purchase by {sale['buyer']}, not by you", field="tx_hash"
            )

    def _decide(
        self, listing: Listing, manifest: Manifest, buyer: Buyer
    ) -> tuple[list[str], dict[str, dict[str, str]]]:
        category = DataCategory(listing.data_category)
        individuals = len({i.contributor for i in manifest.items})
        exporter = Exporter(
            personal_individuals=individuals if category is DataCategory.PERSONAL else 0,
            sensitive_individuals=individuals if category is DataCategory.SENSITIVE_PERSONAL else 0,
        )
        items = [
            Item(str(i.index), i.jurisdiction, category, ConsentScope(listing.consent_scope))
            for i in manifest.items
        ]
        split = self._engine.split(items, buyer, exporter)
        remote = "compute_to_data" in listing.access_modes
        withheld = {
            item.key: {
                "outcome": d.outcome.value,
                "rule": d.rule,
                "legal_basis": d.legal_basis,
                "explanation": d.explanation,
                "access": "compute_to_data"
                if d.outcome is Outcome.COMPUTE_TO_DATA_ONLY and remote
                else "none",
            }
            for item, d in split.withheld
        }
        return [item.key for item, _ in split.deliverable], withheld

    def _forward(self, s: Session, market: LicenseMarket, listing: Listing, order: Order) -> None:
        """Pass the publisher's share on: LicenseMarket paid it to the operator, the token's holder."""
        if listing.publisher_id is None or order.publisher_share == 0:
            return
        publisher = s.get(Participant, listing.publisher_id)
        assert publisher is not None
        chain = self._need_chain()
        order.forward_tx_key = f"exchange:forward:{chain.client.chain_id}:{market.address}:{order.licence_id}"
        req = TestToken(chain.client, listing.token).transfer(publisher.address, order.publisher_share)
        self._enqueue(s, order.forward_tx_key, req.to, req.data)

    def order(self, who: Caller, order_id: int) -> OrderPublic:
        with self._db.transaction() as s:
            return self._order_json(self._own_order(s, who, order_id))

    def orders(self, who: Caller, *, after: int | None = None, limit: int | None = None) -> list[OrderPublic]:
        """The buyer's orders after id ``after`` (a keyset page), oldest first, at most ``limit``."""
        query = select(Order).where(Order.buyer_id == who.id).order_by(Order.id).limit(limit)
        if after is not None:
            query = query.where(Order.id > after)
        with self._db.transaction() as s:
            return [self._order_json(r) for r in s.scalars(query)]

    # --- delivery (exchange/access.py) --------------------------------------------------------

    def download_url(self, who: Caller, order_id: int) -> DownloadLink:
        """A short-lived signed URL of the order's export (the buyer only)."""
        return self._access.download_url(who, order_id)

    def open_delivery(self, token: str, caller: Caller, range_header: str | None = None) -> Delivery:
        """Check the URL and the licence on chain, log the download, and return the asked bytes.

        Raises:
            Forbidden: (``token``) a link this node did not sign, or the caller is not its buyer;
                (``licence``) the licence is no longer
                held by the buyer, or licenses another listing or version.
            Gone: (``token``) the link expired; (``licence``) the licence expired on chain.
        """
        return self._access.open_delivery(token, caller, range_header)
