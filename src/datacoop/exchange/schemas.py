"""The exchange's public shapes: what its routes answer (and the SDK and web app read).

Amounts are ERC-20 base units as decimal text (they may exceed what a JSON number holds exactly).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from datacoop.schemas import _Model

__all__ = [
    "DownloadLink",
    "ListingDatasheet",
    "ListingLinks",
    "ListingPage",
    "ListingPublic",
    "ListingSample",
    "OrderPublic",
    "Provenance",
    "RoyaltyPublic",
    "RoyaltyRoundPublic",
    "WithheldItem",
]


class ListingPublic(_Model):
    """A dataset version offered for sale on LicenseMarket, and where its listing transaction stands."""

    id: int
    version_id: int = Field(description="the anchored dataset version on sale")
    title: str
    modality: str = Field(description="the items' modality (image, text…), or unknown")
    item_count: int
    size_bytes: int = Field(description="the items' bytes summed")
    origins: list[str] = Field(description="the jurisdictions the items come from (ISO 3166-1)")
    token: str = Field(description="the ERC-20 token the price is in")
    price: str = Field(description="token base units, as decimal text")
    licence: str = Field(description="e.g. CC-BY-4.0, or custom")
    terms_hash: str = Field(description="keccak256 of the canonical licence terms, as LicenseMarket keeps it")
    duration_s: int = Field(description="how long a licence lasts, in seconds")
    royalty_bps: int = Field(description="the contributors' share of each sale, in basis points")
    access_modes: list[str] = Field(description="download, compute_to_data, federated")
    jurisdictions: list[str] = Field(description="buyer jurisdictions it is offered to; '*': anywhere")
    data_category: str
    consent_scope: str
    status: str = Field(description="pending (being listed on chain), listed or failed")
    market_listing_id: int | None = Field(description="LicenseMarket's id, once listed")
    tx_hash: str | None = Field(description="the LicenseMarket.list transaction, once sent")
    error: str | None = Field(description="why listing failed, when it did")


class ListingDatasheet(_Model):
    """The listed version's datasheet, from its manifest."""

    name: str
    version: int
    manifest_cid: str
    items_root: str = Field(description="the Merkle root over the version's items")
    licence: str
    created_at: str = Field(description="when the version was made, as the manifest writes it")


class ListingSample(_Model):
    """One item as a buyer may preview it: the scrubbed blob's CID, type, size and labels."""

    index: int
    cid: str
    media_type: str
    size: int
    labels: dict[str, Any]


class ListingLinks(_Model):
    """Where the version's metadata is."""

    manifest: str = Field(description="the path serving the version's manifest")
    croissant: str = Field(description="the CLI command that exports its Croissant metadata")


class Provenance(_Model):
    """Contributor countries, consent coverage and review statistics, from the manifest alone."""

    items: int
    contributors: int = Field(description="distinct contributors")
    countries: dict[str, int] = Field(description="items per jurisdiction of origin")
    consent_coverage: float = Field(description="the share of items with a signed consent, 4 places")
    reviews: dict[str, int] = Field(description="items per review outcome")
    licences: list[str]


class ListingPage(ListingPublic):
    """The listing page: the listing with its terms, datasheet, samples, metadata links and provenance."""

    terms_text: str = Field(description="the licence terms (hashed into terms_hash)")
    datasheet: ListingDatasheet
    samples: list[ListingSample]
    metadata: ListingLinks
    provenance: Provenance


class WithheldItem(_Model):
    """Why the compliance policy withholds an item from a buyer."""

    outcome: str
    rule: str = Field(description="the policy rule that decided")
    legal_basis: str
    explanation: str
    access: str = Field(description="compute_to_data when the item can still be computed on, else none")


class OrderPublic(_Model):
    """A licence bought on chain and the items it grants (the compliant ones)."""

    id: int
    listing_id: int
    buyer: str
    tx_hash: str = Field(description="the LicenseMarket.buy transaction")
    licence_id: str = Field(description="LicenseMarket's licence token id, as decimal text")
    expires: int = Field(description="when the licence ends, unix seconds")
    amount: str = Field(description="what the buyer paid, base units as decimal text")
    royalty: str = Field(description="the contributors' share")
    publisher_share: str
    operator_fee: str
    jurisdiction: str = Field(description="where the buyer receives the data (ISO 3166-1)")
    purpose: str
    safeguards: list[str]
    granted: list[int] = Field(description="manifest indices the buyer may download")
    withheld: dict[str, WithheldItem] = Field(description="manifest index -> why it is withheld")


class DownloadLink(_Model):
    """A short-lived signed URL of an order's export (a tar in WebDataset layout)."""

    url: str = Field(description="the path to GET, signed in as the buyer")
    expires: int = Field(description="when the link stops working, unix seconds")
    size: int = Field(description="the export's size in bytes")


class RoyaltyRoundPublic(_Model):
    """One posting of a listing's cumulative royalty root; amounts are base units as decimal text."""

    listing_id: int
    round: int = Field(description="the round's number within the listing, from 1")
    status: str = Field(description="pending, posted, confirmed or failed")
    credited: str = Field(description="the pool's credited royalties this root shares out")
    total: str = Field(description="what the root gives the contributors, cumulative")
    dust: str = Field(description="credited minus total: what rounding left unshared")
    root: str
    tx_hash: str | None
    error: str | None


class RoyaltyPublic(_Model):
    """An account's royalty claim on one listing, from its newest confirmed round: send ``proof`` with
    ``cumulative`` to LicenseMarket; amounts are base units as decimal text."""

    listing_id: int
    market_listing_id: str = Field(description="LicenseMarket's listing id, as decimal text")
    market: str = Field(description="the LicenseMarket contract: claims are sent here")
    round: int = Field(description="the round whose root the proof is against")
    account: str
    cumulative: str = Field(description="everything the account has earned on the listing so far")
    claimed: str = Field(description="what LicenseMarket has already paid the account")
    claimable: str = Field(description="cumulative minus claimed, never below 0")
    proof: list[str] = Field(description="Merkle proof of (account, cumulative): 0x-hex 32-byte words")
    root: str = Field(description="the round's Merkle root, as posted on chain")
