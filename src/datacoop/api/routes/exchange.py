"""The exchange: listings, orders, signed downloads (resumable with Range) and royalties."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from datacoop.api.deps import CallerIsOperator, CurrentCaller, ExchangeDep, NodeDep, own_address
from datacoop.api.openapi import NOTHING_NEW, binary
from datacoop.api.params import MAX_ID, PAGED, After, Count, Id, Page, Wei, page_by, page_of
from datacoop.api.streaming import download_headers
from datacoop.errors import Forbidden, InvalidInput
from datacoop.exchange.listings import SearchFilters
from datacoop.exchange.schemas import (
    DownloadLink,
    ListingPage,
    ListingPublic,
    OrderPublic,
    RoyaltyPublic,
    RoyaltyRoundPublic,
)

router = APIRouter(tags=["exchange"])


class ListingCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version_id: int = Field(ge=1, le=MAX_ID, description="an anchored dataset version")
    title: str = Field(default="", max_length=200)
    price: str = Field(
        pattern=r"^[1-9][0-9]{0,27}$", description="ERC-20 base units, as a decimal string (1 to 10**28-1)"
    )
    licence: str = Field(min_length=1, max_length=100, description="e.g. CC-BY-4.0, or 'custom'")
    terms_text: str = Field(default="", max_length=100_000)
    duration_s: int = Field(ge=1, description="how long a licence lasts, in seconds")
    royalty_bps: int = Field(default=0, ge=0, le=10_000, description="contributors' share, basis points")
    access_modes: list[str] = Field(
        default_factory=lambda: ["download"], description="download, compute_to_data, federated"
    )
    jurisdictions: list[str] = Field(default_factory=lambda: ["*"], description="buyer jurisdictions")
    data_category: str = "personal"
    consent_scope: str = "general"


class OrderCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    listing_id: int = Field(ge=1, le=MAX_ID)
    tx_hash: str = Field(pattern=r"^0x[0-9a-fA-F]{64}$", description="the LicenseMarket.buy transaction")
    jurisdiction: str = Field(min_length=2, max_length=2, description="where the buyer receives the data")
    purpose: str = Field(default="training", min_length=1, max_length=100)
    safeguards: list[str] = Field(default_factory=list, description="transfer safeguards in place")


@router.post("/listings", response_model=ListingPublic, status_code=status.HTTP_201_CREATED)
def create_listing(node: NodeDep, who: CurrentCaller, body: ListingCreate) -> ListingPublic:
    """List an anchored version on LicenseMarket (its publisher); the node sends the transaction."""
    view = node.exchange.create_listing(who, body.model_dump())
    node.wake_chain()  # the chain follower sends it; this request only enqueues
    return view


@router.get("/listings", response_model=list[ListingPublic], responses=PAGED)
def search_listings(
    exchange: ExchangeDep,
    response: Response,
    q: str | None = None,
    modality: str | None = None,
    licence: str | None = None,
    max_price: Wei = None,
    min_items: Count = None,
    max_size: Count = None,
    origin: Annotated[str | None, Query(description="a jurisdiction the items come from")] = None,
    buyer: Annotated[str | None, Query(description="a buyer jurisdiction it is offered to")] = None,
    include_pending: bool = False,
    after: After = None,
    limit: Page = 100,
) -> list[ListingPublic]:
    """Listings on sale, filtered, newest first (what buyers browse), a page at a time: X-Next-Cursor is
    the next page's ``after``, which lists the listings below that id."""
    filters = SearchFilters(q, modality, licence, max_price, min_items, max_size, origin, buyer)
    rows = exchange.search(filters, include_pending=include_pending, before=after, limit=limit + 1)
    return page_of(response, rows, limit)


@router.get("/listings/{listing_id}", response_model=ListingPage)
def get_listing(exchange: ExchangeDep, listing_id: Id) -> ListingPage:
    """The listing page: terms, datasheet, samples, metadata links and provenance summary."""
    return exchange.listing_page(listing_id)


@router.post(
    "/listings/{listing_id}/royalty-rounds",
    status_code=status.HTTP_201_CREATED,
    response_model=RoyaltyRoundPublic,
    responses={204: NOTHING_NEW},
)
def close_royalty_round(node: NodeDep, who: CurrentCaller, listing_id: Id) -> RoyaltyRoundPublic | Response:
    """Share what the pool was credited and post the root (operator only); 204 when nothing is new."""
    if not node.exchange.is_operator(who.address):
        raise Forbidden("only the node's operator posts royalty roots", field="authorization")
    view = node.exchange.close_royalty_round(listing_id)
    node.wake_chain()
    return Response(status_code=status.HTTP_204_NO_CONTENT) if view is None else view


@router.post("/orders", response_model=OrderPublic, status_code=status.HTTP_201_CREATED)
def create_order(node: NodeDep, who: CurrentCaller, body: OrderCreate) -> OrderPublic:
    """Record a purchase made on chain; the answer lists the granted items and the withheld ones."""
    order = node.exchange.record_order(
        who, body.listing_id, body.tx_hash, body.jurisdiction, body.purpose, body.safeguards
    )
    node.wake_chain()  # the publisher's share and the royalty round are the chain follower's to send
    return order


@router.get("/orders", response_model=list[OrderPublic], responses=PAGED)
def list_orders(
    exchange: ExchangeDep, who: CurrentCaller, response: Response, after: After = None, limit: Page = 100
) -> list[OrderPublic]:
    """The caller's orders, oldest first, a page at a time (X-Next-Cursor names the next)."""
    return page_of(response, exchange.orders(who, after=after, limit=limit + 1), limit)


@router.get("/orders/{order_id}", response_model=OrderPublic)
def get_order(exchange: ExchangeDep, who: CurrentCaller, order_id: Id) -> OrderPublic:
    """One of the caller's orders."""
    return exchange.order(who, order_id)


@router.get("/orders/{order_id}/download-url", response_model=DownloadLink)
def download_url(exchange: ExchangeDep, who: CurrentCaller, order_id: Id) -> DownloadLink:
    """A short-lived signed URL of the order's export (a tar in WebDataset layout)."""
    return exchange.download_url(who, order_id)


@router.get(
    "/deliveries/{token}",
    response_model=None,
    response_class=StreamingResponse,
    responses={
        200: binary("application/x-tar", description="the order's export, WebDataset layout"),
        206: binary("application/x-tar", description="the range asked for (Content-Range)"),
        416: {"description": "the range starts past the end; Content-Range: bytes */size"},
    },
)
def deliver(
    exchange: ExchangeDep,
    who: CurrentCaller,
    token: str,
    range_: Annotated[str | None, Header(alias="Range")] = None,
) -> StreamingResponse | Response:
    """The export's bytes to the order's buyer, signed in (the link is a second factor), after checking
    the licence on chain; ``Range: bytes=a-b`` resumes."""
    try:
        delivery = exchange.open_delivery(token, who, range_)  # every check before a byte is sent
    except InvalidInput as exc:
        if exc.field == "range" and exc.limit is not None:  # beyond the end: 416, as RFC 9110 says
            return Response(status_code=416, headers={"Content-Range": f"bytes */{exc.limit}"})
        raise
    partial = range_ is not None
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Length": str(delivery.end - delivery.start + 1),
        **download_headers(f"order-{delivery.order_id}.tar"),
        "ETag": f'"order-{delivery.order_id}-{delivery.size}"',
    }
    code = status.HTTP_200_OK
    if partial:
        headers["Content-Range"] = f"bytes {delivery.start}-{delivery.end}/{delivery.size}"
        code = status.HTTP_206_PARTIAL_CONTENT
    return StreamingResponse(
        delivery.chunks, status_code=code, media_type="application/x-tar", headers=headers
    )


@router.get("/royalties/{address}", response_model=list[RoyaltyPublic], responses=PAGED)
def royalties(
    exchange: ExchangeDep, who: CurrentCaller, operator: CallerIsOperator, response: Response, address: str,
    after: After = None, limit: Page = 100,
) -> list[RoyaltyPublic]:  # fmt: skip
    """What ``address`` can claim per listing: cumulative royalty, proof and what is claimed on chain
    (its owner or the operator only); by listing id, a page at a time (X-Next-Cursor: the next ``after``,
    a listing id)."""
    account = own_address(who, address, "royalties are", operator=operator)
    rows = exchange.royalties(account, after=after, limit=limit + 1)
    return page_by(response, rows, limit, lambda r: r.listing_id)
