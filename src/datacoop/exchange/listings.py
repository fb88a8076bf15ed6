"""Listings: what a publisher offers, checked field by field, and how a listing is shown and searched."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, false, select

from datacoop.compliance import ConsentScope, DataCategory
from datacoop.compliance._facts import parse_enum
from datacoop.datasets.manifest import Manifest, canonical_json
from datacoop.db.models import Listing
from datacoop.errors import InvalidInput
from datacoop.exchange.schemas import ListingPublic, ListingSample, Provenance
from datacoop.identity.addresses import normalize_jurisdiction
from datacoop.merkle._keccak import new_hasher
from datacoop.schemas import MAX_ID

__all__ = [
    "ACCESS_MODES",
    "ListingTerms",
    "SearchFilters",
    "listing_json",
    "matches",
    "provenance",
    "search_query",
    "terms_hash",
]

ACCESS_MODES = ("download", "compute_to_data", "federated")
MAX_DURATION_S = 100 * 365 * 86_400  # LicenseMarket.MAX_DURATION
BPS = 10_000
ANYWHERE = "*"


def terms_hash(licence: str, text: str) -> str:
    """keccak256 of the canonical JSON ``{"licence": …, "text": …}``: the hash LicenseMarket keeps."""
    return "0x" + new_hasher().keccak(canonical_json({"licence": licence, "text": text})).hex()


@dataclass(frozen=True)
class ListingTerms:
    """A publisher's offer, validated (``operator_fee_bps`` is the market's, to bound the royalty)."""

    version_id: int
    title: str
    price: int
    licence: str
    terms_text: str
    duration_s: int
    royalty_bps: int
    access_modes: tuple[str, ...]
    jurisdictions: tuple[str, ...]
    data_category: DataCategory
    consent_scope: ConsentScope

    @classmethod
    def parse(cls, body: dict[str, Any], operator_fee_bps: int) -> ListingTerms:
        price = _integer(body.get("price"), "price", 1, 2**96 - 1)
        licence = str(body.get("licence") or "").strip()
        if not 1 <= len(licence) <= 100:
            raise InvalidInput(
                "licence must be 1 to 100 characters (e.g. CC-BY-4.0)", field="licence", limit=100
            )
        text = str(body.get("terms_text") or "")
        if licence.lower() == "custom" and not text.strip():
            raise InvalidInput("a custom licence needs its terms in terms_text", field="terms_text")
        if len(text) > 100_000:
            raise InvalidInput(
                "terms_text is longer than 100,000 characters", field="terms_text", limit=100_000
            )
        royalty_cap = BPS - operator_fee_bps
        modes = tuple(dict.fromkeys(body.get("access_modes") or ["download"]))
        unknown = [m for m in modes if m not in ACCESS_MODES]
        if unknown:
            raise InvalidInput(
                f"access_modes {unknown[0]!r} is not one of: {', '.join(ACCESS_MODES)}", field="access_modes"
            )
        places = body.get("jurisdictions") or [ANYWHERE]
        if not isinstance(places, list):
            raise InvalidInput(
                "jurisdictions must be a list of ISO 3166-1 codes or '*'", field="jurisdictions"
            )
        return cls(
            version_id=_integer(body.get("version_id"), "version_id", 1, 2**31),
            title=_title(body.get("title")),
            price=price,
            licence=licence,
            terms_text=text,
            duration_s=_integer(body.get("duration_s"), "duration_s", 1, MAX_DURATION_S),
            royalty_bps=_integer(body.get("royalty_bps", 0), "royalty_bps", 0, royalty_cap),
            access_modes=modes,
            jurisdictions=tuple(
                ANYWHERE if p == ANYWHERE else normalize_jurisdiction(p, field="jurisdictions")
                for p in places
            ),
            data_category=parse_enum(DataCategory, body.get("data_category", "personal"), "data_category"),
            consent_scope=parse_enum(ConsentScope, body.get("consent_scope", "general"), "consent_scope"),
        )


def _title(value: object) -> str:
    title = str(value or "").strip()
    if len(title) > 200:
        raise InvalidInput("title must be at most 200 characters", field="title", limit=200)
    return title


def _integer(value: object, field: str, low: int, high: int) -> int:
    try:
        number = int(str(value)) if not isinstance(value, bool) else None
    except ValueError:
        number = None
    if number is None or not low <= number <= high:
        raise InvalidInput(
            f"{field} must be an integer from {low} to {high}, got {value!r}", field=field, limit=high
        )
    return number


@dataclass(frozen=True)
class SearchFilters:
    """GET /v1/listings filters; None: no filter."""

    q: str | None = None
    modality: str | None = None
    licence: str | None = None
    max_price: int | None = None
    min_items: int | None = None
    max_size: int | None = None
    origin: str | None = None  # a jurisdiction the items come from
    buyer: str | None = None  # a buyer jurisdiction the listing is offered to


def search_query(f: SearchFilters) -> Select[Listing]:
    """The listings ``f`` lets through, as far as SQL can tell on both databases (see :func:`matches`)."""
    query = select(Listing)  # text is compared in Python: SQLite's lower() folds ASCII only
    if f.modality is not None:
        query = query.where(Listing.modality == f.modality)
    if f.min_items is not None:  # a count past the INTEGER column's range would fail in PostgreSQL
        query = query.where(Listing.item_count >= f.min_items if f.min_items <= MAX_ID else false())
    if f.max_size is not None:
        query = query.where(Listing.size_bytes <= f.max_size)
    return query


def matches(row: Listing, f: SearchFilters) -> bool:
    checks = (
        f.q is None or f.q.lower() in f"{row.title} {row.licence}".lower(),
        f.modality is None or row.modality == f.modality,
        f.licence is None or row.licence.lower() == f.licence.lower(),
        f.max_price is None or row.price <= f.max_price,
        f.min_items is None or row.item_count >= f.min_items,
        f.max_size is None or row.size_bytes <= f.max_size,
        f.origin is None or normalize_jurisdiction(f.origin, field="origin") in row.origins,
        f.buyer is None
        or ANYWHERE in row.jurisdictions
        or normalize_jurisdiction(f.buyer, field="buyer") in row.jurisdictions,
    )
    return all(checks)


def listing_json(row: Listing) -> ListingPublic:
    return ListingPublic(
        id=row.id,
        version_id=row.version_id,
        title=row.title,
        modality=row.modality,
        item_count=row.item_count,
        size_bytes=row.size_bytes,
        origins=row.origins,
        token=row.token,
        price=str(row.price),
        licence=row.licence,
        terms_hash=row.terms_hash,
        duration_s=row.duration_s,
        royalty_bps=row.royalty_bps,
        access_modes=row.access_modes,
        jurisdictions=row.jurisdictions,
        data_category=row.data_category,
        consent_scope=row.consent_scope,
        status=row.status,
        market_listing_id=row.market_listing_id,
        tx_hash=row.tx_hash,
        error=row.error,
    )


def provenance(manifest: Manifest) -> Provenance:
    """Contributor countries, consent coverage and review statistics, from the manifest alone."""
    items = manifest.items
    signed = sum(1 for i in items if i.signature and i.consent_hash)
    return Provenance(
        items=len(items),
        contributors=len({i.contributor for i in items}),
        countries=dict(sorted(Counter(i.jurisdiction for i in items).items())),
        consent_coverage=round(signed / len(items), 4) if items else 0.0,
        reviews=dict(sorted(Counter(str(i.review.get("outcome", "unknown")) for i in items).items())),
        licences=sorted({i.licence for i in items}),
    )


def samples(manifest: Manifest, count: int = 3) -> list[ListingSample]:
    """A few items as a buyer may preview them: the scrubbed blob's CID, type, size and labels."""
    return [
        ListingSample(index=i.index, cid=i.cid, media_type=i.media_type, size=i.size, labels=i.labels)
        for i in manifest.items[:count]
    ]
