"""The exchange: listings on LicenseMarket, orders verified on chain, compliant delivery, royalties.

Who does what:

- a **publisher** (the dataset's owner; the operator holds its DatasetRegistry token) lists an
  anchored version: the node sends ``LicenseMarket.list`` through the operator's outbox;
- a **buyer** pays on chain with their own key (approve + ``buy``), then tells the node the
  transaction, as a hint: the node records the order only once its own chain watcher
  (:mod:`datacoop.chain.watcher`) keeps that transaction's ``LicenceSold`` event at the confirmation
  depth (buyer = the signed-in participant, listing, licence id, expiry; until then the answer is
  "ask again"), records it once (unique on transaction and licence), decides every item with the
  compliance policy and grants the deliverable ones, writing the grant to the audit log; the
  publisher's share, paid to the operator as the token's holder, is forwarded through the outbox;
- **delivery** is a signed, short-lived URL; each request re-checks the licence on chain
  (holder, listing, expiry) before a byte is sent, and is written to the audit log;
- **royalties** follow :mod:`datacoop.exchange.royalties`.

Modules: this one (listings and royalty rounds), ``orders`` (recording a sale), ``access`` (download
links and the licence check behind each download), ``order_rows`` (the order lookups both share),
``listings`` (terms, search, listing page), ``delivery`` (signed links, the tar export read from any
offset), ``royalties`` (shares and rounds).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from web3.logs import DISCARD

from datacoop.chain.contracts import LicenseMarket
from datacoop.db.models import (
    ChainTx,
    Dataset,
    DatasetVersion,
    Listing,
    Order,
    RoyaltyEntitlement,
    RoyaltyRound,
    Task,
)
from datacoop.errors import Conflict, Forbidden, NotFound, Unavailable
from datacoop.exchange import royalties
from datacoop.exchange.listings import (
    ListingTerms,
    SearchFilters,
    listing_json,
    matches,
    provenance,
    samples,
    search_query,
    terms_hash,
)
from datacoop.exchange.orders import Delivery, ExchangeOrders
from datacoop.exchange.schemas import (
    ListingDatasheet,
    ListingLinks,
    ListingPage,
    ListingPublic,
    RoyaltyPublic,
    RoyaltyRoundPublic,
)
from datacoop.identity.addresses import normalize_address
from datacoop.identity.schemas import Caller
from datacoop.settlement.cumulative import Entitlement, entitlement

__all__ = ["Delivery", "ExchangeService"]


_LISTING_OF_TX = {"confirmed": "listed", "reverted": "failed", "failed": "failed"}


class ExchangeService(ExchangeOrders):
    """Listings, orders, delivery and royalties of one node."""

    # --- listings -----------------------------------------------------------------------------

    def create_listing(self, who: Caller, body: dict[str, Any]) -> ListingPublic:
        """List an anchored version on LicenseMarket through the operator's outbox (the publisher's offer)."""
        chain, market = self._need_chain(), self._market()
        terms = ListingTerms.parse(body, int(market.contract.functions.operatorFeeBps().call()))
        manifest = self._datasets.manifest(terms.version_id)
        now = self._clock()
        with self._db.transaction() as s:
            version, dataset = self._anchored(s, terms.version_id)
            if dataset.owner_id != who.id and not (
                dataset.owner_id is None and self.is_operator(who.address)
            ):
                raise Forbidden(f"dataset {dataset.id} is not yours to sell", field="version_id")
            assert dataset.token_id is not None and version.chain_version is not None
            digest = terms_hash(terms.licence, terms.terms_text)
            row = Listing(
                version_id=version.id,
                publisher_id=dataset.owner_id,
                title=terms.title or dataset.name,
                modality=self._modality(s, dataset),
                item_count=version.item_count,
                size_bytes=sum(i.size for i in manifest.items),
                origins=sorted({i.jurisdiction for i in manifest.items}),
                token=chain.deployment.token,
                price=terms.price,
                licence=terms.licence,
                terms_text=terms.terms_text,
                terms_hash=digest,
                duration_s=terms.duration_s,
                royalty_bps=terms.royalty_bps,
                access_modes=list(terms.access_modes),
                jurisdictions=list(terms.jurisdictions),
                data_category=terms.data_category.value,
                consent_scope=terms.consent_scope.value,
                status="pending",
                tx_key="",
                created_at=now,
                updated_at=now,
            )
            s.add(row)
            s.flush()
            row.tx_key = f"exchange:list:{chain.client.chain_id}:{market.address}:{row.id}"
            req = market.list_version(
                dataset.token_id,
                version.chain_version,
                row.token,
                row.price,
                digest,
                row.duration_s,
                row.royalty_bps,
            )
            self._enqueue(s, row.tx_key, req.to, req.data)
            return listing_json(row)

    @staticmethod
    def _anchored(s: Session, version_id: int) -> tuple[DatasetVersion, Dataset]:
        version = s.get(DatasetVersion, version_id)
        if version is None:
            raise NotFound(f"there is no dataset version {version_id}", field="version_id")
        dataset = s.get(Dataset, version.dataset_id)
        assert dataset is not None
        if version.anchor_status != "confirmed" or dataset.token_id is None or version.chain_version is None:
            raise Conflict(
                f"version {version_id} is {version.anchor_status}: only a version anchored in "
                "DatasetRegistry can be listed",
                field="version_id",
            )
        return version, dataset

    @staticmethod
    def _modality(s: Session, dataset: Dataset) -> str:
        task_ids = dataset.query.get("task_ids") or []
        found = s.scalar(select(Task.modality).where(Task.id.in_(task_ids)).limit(1))
        return str(found or "unknown")

    def sync(self) -> None:
        """Follow listings and royalty rounds to their outcome from the outbox (the chain follower's work)."""
        market, now = self._market(), self._clock()
        with self._db.transaction() as s:
            hashes = [tx.tx_hash for _row, tx, status in self._pending_listings(s) if status == "listed"]
        # the market listing ids come from the receipts, read with no transaction open
        listed = {h: self._listed_id(market, h) for h in hashes if h}
        with self._db.transaction() as s:
            for row, tx, status in self._pending_listings(s):
                if status == "listed" and tx.tx_hash and tx.tx_hash not in listed:
                    continue  # confirmed since the receipts were read: the next sync takes it
                row.status, row.tx_hash, row.updated_at = status, tx.tx_hash, now
                if status == "listed" and tx.tx_hash:
                    row.market_listing_id = listed[tx.tx_hash]
                else:
                    row.error = tx.error or "LicenseMarket.list reverted"
            royalties.sync_rounds(s, now)
            due = self._rounds_due(s)
        for listing_id in due:
            self._try_round(listing_id)

    @staticmethod
    def _pending_listings(s: Session) -> list[tuple[Listing, ChainTx, str]]:
        """Pending listings whose outbox record has an outcome, with the record and the listing status."""
        found: list[tuple[Listing, ChainTx, str]] = []
        for row in s.scalars(select(Listing).where(Listing.status == "pending")).all():
            tx = s.scalar(select(ChainTx).where(ChainTx.key == row.tx_key))
            status = _LISTING_OF_TX.get(tx.status) if tx is not None else None
            if tx is not None and status is not None:
                found.append((row, tx, status))
        return found

    def _drive(self) -> None:
        """One step of the outbox and of the watcher, then follow (callers that wait for their own
        transaction)."""
        self._need_chain().wait_step()
        self._need_watcher().step()
        self.sync()

    @staticmethod
    def _rounds_due(s: Session) -> list[int]:
        """Listings whose recorded sales credited more than their rounds shared, none being posted."""
        sold: dict[int, int] = {}
        for listing_id, royalty in s.execute(select(Order.listing_id, Order.royalty)):
            sold[listing_id] = sold.get(listing_id, 0) + int(royalty)
        shared: dict[int, int] = {}
        for row in s.scalars(select(RoyaltyRound).where(RoyaltyRound.status != "failed")):
            if row.status in royalties.OPEN:
                shared[row.listing_id] = 2**256  # one at a time
            else:
                shared[row.listing_id] = max(shared.get(row.listing_id, 0), int(row.credited))
        return sorted(i for i, total in sold.items() if total > shared.get(i, 0))

    def _listed_id(self, market: LicenseMarket, tx_hash: str) -> int:
        receipt = market.client.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
        events = market.contract.events.Listed().process_receipt(receipt, errors=DISCARD)
        return int(events[0]["args"]["listingId"])

    def wait_listed(self, listing_id: int, *, timeout: float = 120) -> ListingPublic:
        """Drive a listing's transaction until it is listed or failed (CLI, demo and tests)."""
        deadline = time.monotonic() + timeout
        while True:
            view = self.listing(listing_id)
            if view.status != "pending":
                return view
            if time.monotonic() > deadline:
                raise Unavailable(f"listing {listing_id} still pending after {timeout}s", field="chain")
            self._drive()

    def listing(self, listing_id: int) -> ListingPublic:
        with self._db.transaction() as s:
            return listing_json(self._listing(s, listing_id))

    def search(
        self, filters: SearchFilters, *, include_pending: bool = False, before: int | None = None,
        limit: int | None = None,
    ) -> list[ListingPublic]:  # fmt: skip
        """Listings on sale that pass ``filters``, newest first, below id ``before`` (a keyset page), at
        most ``limit``. The columns filter in SQL; price and the jurisdiction lists (decimal text and JSON)
        in Python, a batch of ``limit`` rows at a time until the page is full."""
        statuses = ("listed", "pending") if include_pending else ("listed",)
        query = search_query(filters).where(Listing.status.in_(statuses)).order_by(Listing.id.desc())
        found: list[ListingPublic] = []
        while True:
            page = query if before is None else query.where(Listing.id < before)
            with self._db.transaction() as s:
                rows = s.scalars(page.limit(limit)).all()
            found += [listing_json(r) for r in rows if matches(r, filters)]
            if limit is None or len(rows) < limit or len(found) >= limit:
                return found[:limit]
            before = rows[-1].id

    def listing_page(self, listing_id: int) -> ListingPage:
        """The listing with its datasheet, sample items, metadata links and provenance summary."""
        view = self.listing(listing_id)
        manifest = self._datasets.manifest(view.version_id)
        version = self._datasets.version_by_id(view.version_id)
        manifest_url = f"/v1/dataset-versions/{version.id}/manifest"
        return ListingPage(
            **dict(view),
            terms_text=self._terms_text(listing_id),
            datasheet=ListingDatasheet(
                name=manifest.name,
                version=manifest.version,
                manifest_cid=version.manifest_cid,
                items_root=version.items_root,
                licence=manifest.licence,
                created_at=manifest.created_at,
            ),
            samples=samples(manifest),
            metadata=ListingLinks(
                manifest=manifest_url,
                croissant=f"datacoop dataset export {version.id} --format croissant",
            ),
            provenance=provenance(manifest),
        )

    def _terms_text(self, listing_id: int) -> str:
        with self._db.transaction() as s:
            return self._listing(s, listing_id).terms_text

    # --- royalties ----------------------------------------------------------------------------

    def close_royalty_round(self, listing_id: int) -> RoyaltyRoundPublic | None:
        """Share the listing's credited royalties among its contributors and post the root.

        Returns None when nothing new was credited.
        """
        chain, market = self._need_chain(), self._market()
        with self._db.transaction() as s:
            listing = self._listing(s, listing_id)
            if listing.status != "listed":
                raise Conflict(f"listing {listing_id} is {listing.status}, not listed", field="listing_id")
            version_id, market_listing_id = listing.version_id, listing.market_listing_id
        assert market_listing_id is not None  # set when the listing was confirmed
        counts = royalties.contributor_counts(
            i.contributor for i in self._datasets.manifest(version_id).items
        )
        credited = int(
            market.royalty_pool(market_listing_id)["credited"]
        )  # the chain, before the transaction
        with self._db.transaction() as s:
            listing = self._listing(s, listing_id)
            row = royalties.open_round(s, chain, market, listing, counts, credited, self._clock())
            return royalties.round_json(row) if row is not None else None

    def _try_round(self, listing_id: int) -> None:
        with contextlib.suppress(Conflict):  # the previous round is still posting: a later call takes it up
            self.close_royalty_round(listing_id)

    def settle_royalties(self, listing_id: int, *, timeout: float = 120) -> RoyaltyRoundPublic | None:
        """Close a round if one is due and drive the open one until confirmed or failed."""
        with contextlib.suppress(Conflict):
            self.close_royalty_round(listing_id)
        deadline = time.monotonic() + timeout
        while True:
            self._drive()
            with self._db.transaction() as s:
                row = s.scalar(
                    select(RoyaltyRound)
                    .where(RoyaltyRound.listing_id == listing_id)
                    .order_by(RoyaltyRound.id.desc())
                )
                view = royalties.round_json(row) if row is not None else None
            if view is None or view.status in ("confirmed", "failed"):
                return view
            if time.monotonic() > deadline:
                raise Unavailable(f"royalty round of listing {listing_id} still {view.status}", field="chain")
            time.sleep(0.05)

    def royalties(
        self, address: str, *, after: int | None = None, limit: int | None = None
    ) -> list[RoyaltyPublic]:
        """Per listing owing ``address`` (listing ids after ``after``, a keyset page, at most ``limit``):
        its cumulative royalty, proof and what is claimed on chain."""
        account = normalize_address(address)
        market = self._market()
        owed: list[tuple[int, int, int, Entitlement]] = []
        query = (
            select(RoyaltyRound.listing_id)
            .join(RoyaltyEntitlement, RoyaltyEntitlement.round_id == RoyaltyRound.id)
            .where(RoyaltyEntitlement.account == account, RoyaltyRound.status == "confirmed")
            .distinct()
            .order_by(RoyaltyRound.listing_id)
            .limit(limit)
        )
        if after is not None:
            query = query.where(RoyaltyRound.listing_id > after)
        with self._db.transaction() as s:
            listing_ids = s.scalars(query).all()
            for listing_id in listing_ids:
                last = royalties.last_confirmed(s, listing_id)
                listing = s.get(Listing, listing_id)
                assert last is not None and listing is not None and listing.market_listing_id is not None
                found = entitlement(
                    royalties.entitlements(s, last.id), last.root, account,
                    mismatch=f"listing {listing_id}: stored royalties do not rebuild the posted root",
                    field="round",
                )  # fmt: skip
                if found is not None:  # always: a contributor's share only grows
                    owed.append((listing_id, listing.market_listing_id, last.number, found))
        # what each account claimed so far is read from the chain after the transaction
        return [
            RoyaltyPublic(
                listing_id=listing_id,
                market_listing_id=str(market_listing_id),
                market=market.address,
                round=number,
                **found.claim_json(int(market.contract.functions.claimed(market_listing_id, account).call())),
            )
            for listing_id, market_listing_id, number, found in owed
        ]
