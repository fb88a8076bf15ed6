"""The exchange from the command line: list a version, browse, buy, download, claim royalties.

``buy`` and ``royalties claim`` send transactions with your own key to the node's chain (approve +
``LicenseMarket.buy``, then ``claimRoyalty``); ``list`` asks the node, signed in as the dataset's
publisher, to list it (the node sends the transaction through its operator, who holds the token).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import typer
from eth_account.signers.local import LocalAccount
from rich.table import Table

from datacoop.cli._common import (
    DEFAULT_DATA_DIR,
    DEFAULT_URL,
    DataDirOpt,
    KeyOpt,
    UrlOpt,
    console,
    reports_errors,
)
from datacoop.cli.settle import RpcOpt, _chain_info, parse_amount
from datacoop.client import DataCoopClient, load_account
from datacoop.errors import InvalidInput
from datacoop.exchange.wallet import approve_and_buy, claim_royalty
from datacoop.settlement.wallet import token_decimals

__all__ = ["register"]

royalties_app = typer.Typer(
    help="Royalties from the sales of datasets your items are in.", no_args_is_help=True
)
_DURATION = re.compile(r"^(\d+)([dhs])$")
_SECONDS = {"d": 86_400, "h": 3600, "s": 1}


def parse_duration(text: str) -> int:
    """``365d``, ``12h`` or ``90s`` → seconds."""
    match = _DURATION.match(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise InvalidInput(f"--duration must look like 365d, 12h or 90s, got {text!r}", field="--duration")
    return int(match.group(1)) * _SECONDS[match.group(2)]


@reports_errors
def list_version(
    version_id: Annotated[int, typer.Argument(help="the anchored dataset version to sell")],
    price: Annotated[str, typer.Option(help="price in whole tokens, e.g. 100 or 12.5")],
    licence: Annotated[str, typer.Option(help="a named licence (CC-BY-4.0) or 'custom'")],
    duration: Annotated[str, typer.Option(help="how long a licence lasts: 365d, 12h, 90s")] = "365d",
    royalty_bps: Annotated[int, typer.Option(help="contributors' share in basis points")] = 3000,
    terms_file: Annotated[Path | None, typer.Option(help="the licence text (required for custom)")] = None,
    access: Annotated[list[str] | None, typer.Option(help="download, compute_to_data, federated")] = None,
    jurisdiction: Annotated[list[str] | None, typer.Option(help="buyer jurisdictions (default: *)")] = None,
    category: Annotated[str, typer.Option(help="the items' data category")] = "personal",
    consent: Annotated[str, typer.Option(help="what the contributors consented to")] = "general",
    title: Annotated[str, typer.Option(help="the listing's title")] = "",
    url: UrlOpt = DEFAULT_URL,
    key: KeyOpt = None,
    rpc: RpcOpt = None,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
) -> None:
    """List a dataset version for sale on LicenseMarket (the dataset's publisher)."""
    with DataCoopClient(url, account=load_account(key, data_dir=data_dir)) as client:
        client.login()
        listing = _list(client, version_id, rpc, price=price, licence=licence, terms_file=terms_file,
                        duration=duration, royalty_bps=royalty_bps, access=access, jurisdiction=jurisdiction,
                        category=category, consent=consent, title=title)  # fmt: skip
    console.print(f"listing {listing['id']} of version {version_id}: {listing['status']} (the node sends it)")


def _list(client: DataCoopClient, version_id: int, rpc: str | None, **o: Any) -> dict[str, Any]:
    rpc_url, info = _chain_info(client, rpc)
    decimals = token_decimals(rpc_url, str(info["token"]))
    return client.create_listing(
        version_id, title=o["title"], licence=o["licence"],
        price=parse_amount(o["price"], decimals, "--price"),
        terms_text=o["terms_file"].read_text() if o["terms_file"] else "",
        duration_s=parse_duration(o["duration"]), royalty_bps=o["royalty_bps"],
        access_modes=o["access"] or ["download"], jurisdictions=o["jurisdiction"] or ["*"],
        data_category=o["category"], consent_scope=o["consent"],
    )  # fmt: skip


@reports_errors
def listings(
    q: Annotated[str | None, typer.Option(help="words in the title or licence")] = None,
    modality: Annotated[str | None, typer.Option()] = None,
    licence: Annotated[str | None, typer.Option()] = None,
    max_price: Annotated[int | None, typer.Option(help="in base units")] = None,
    origin: Annotated[str | None, typer.Option(help="a jurisdiction the items come from")] = None,
    buyer: Annotated[str | None, typer.Option(help="your jurisdiction: only listings offered there")] = None,
    url: UrlOpt = DEFAULT_URL,
) -> None:
    """Listings on sale."""
    table = Table("id", "title", "modality", "items", "licence", "price", "origins", "days")
    with DataCoopClient(url) as client:
        found = client.listings(
            q=q, modality=modality, licence=licence, max_price=max_price, origin=origin, buyer=buyer
        )
    for row in found:
        table.add_row(
            str(row["id"]), row["title"], row["modality"], str(row["item_count"]), row["licence"],
            row["price"], ",".join(row["origins"]), str(row["duration_s"] // 86_400),
        )  # fmt: skip
    console.print(table)


@reports_errors
def buy(
    listing_id: Annotated[int, typer.Argument(help="the listing to buy a licence of")],
    jurisdiction: Annotated[str, typer.Option(help="where you receive the data (ISO 3166-1 alpha-2)")],
    purpose: Annotated[str, typer.Option(help="what you use it for")] = "training",
    safeguard: Annotated[list[str] | None, typer.Option(help="a transfer safeguard you have")] = None,
    url: UrlOpt = DEFAULT_URL,
    key: KeyOpt = None,
    rpc: RpcOpt = None,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
) -> None:
    """Buy a licence on chain with your key (approve + buy), then tell the node; prints what you get."""
    account = load_account(key, data_dir=data_dir)
    with DataCoopClient(url, account=account) as client:
        client.login()
        order, tx_hash = _buy(client, account, listing_id, rpc, jurisdiction, purpose, safeguard or [])
    console.print(
        f"order {order['id']}: licence {order['licence_id']} (tx {tx_hash}); "
        f"{len(order['granted'])} item(s) granted, {len(order['withheld'])} withheld"
    )
    for index, why in sorted(order["withheld"].items(), key=lambda kv: int(kv[0])):
        console.print(f"  item {index}: {why['outcome']} ({why['rule']}; {why['legal_basis']})", markup=False)


def _buy(
    client: DataCoopClient, account: LocalAccount, listing_id: int, rpc: str | None, *order: Any
) -> tuple[dict[str, Any], str]:
    listing = client.listing(listing_id)
    if listing["status"] != "listed" or listing["market_listing_id"] is None:
        raise InvalidInput(f"listing {listing_id} is {listing['status']}, not on sale yet", field="listing")
    rpc_url, info = _chain_info(client, rpc)
    price = int(listing["price"])
    console.print(f"approving {price} base units for LicenseMarket …")
    tx_hash = approve_and_buy(
        rpc_url, account, market=str(info["market"]), token=listing["token"],
        market_listing_id=int(listing["market_listing_id"]), price=price,
    )  # fmt: skip
    return client.place_order(listing_id, tx_hash, *order), tx_hash


@reports_errors
def download(
    order_id: Annotated[int, typer.Argument(help="your order")],
    out: Annotated[Path, typer.Option(help="folder to write order-N.tar into")] = Path("."),
    url: UrlOpt = DEFAULT_URL,
    key: KeyOpt = None,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
) -> None:
    """Download an order's export; run it again after a cut to resume where it stopped."""
    out.mkdir(parents=True, exist_ok=True)
    with DataCoopClient(url, account=load_account(key, data_dir=data_dir)) as client:
        client.login()
        path = client.download(order_id, out / f"order-{order_id}.tar")
    console.print(f"{path} ({path.stat().st_size} bytes)")


@reports_errors
def claim_royalties(
    url: UrlOpt = DEFAULT_URL,
    key: KeyOpt = None,
    rpc: RpcOpt = None,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
) -> None:
    """Claim your royalties, with your key, straight from LicenseMarket."""
    account = load_account(key, data_dir=data_dir)
    with DataCoopClient(url, account=account) as client:
        client.login()  # royalties are shown to their owner only
        owed = [r for r in client.royalties(account.address) if int(r["claimable"]) > 0]
        rpc_url, _ = _chain_info(client, rpc) if owed else (None, {})
    if rpc_url is None:
        console.print("nothing to claim")
        return
    for r in owed:
        tx_hash = claim_royalty(
            rpc_url, account, market=r["market"], market_listing_id=int(r["market_listing_id"]),
            cumulative=int(r["cumulative"]), proof=r["proof"],
        )  # fmt: skip
        console.print(f"listing {r['listing_id']}: claimed {r['claimable']} (tx {tx_hash})")


@reports_errors
def show_royalties(
    url: UrlOpt = DEFAULT_URL, key: KeyOpt = None, data_dir: DataDirOpt = DEFAULT_DATA_DIR
) -> None:
    """Your royalties per listing: earned so far, claimed, claimable."""
    account = load_account(key, data_dir=data_dir)
    table = Table("listing", "round", "cumulative", "claimed", "claimable")
    with DataCoopClient(url, account=account) as client:
        client.login()  # royalties are shown to their owner only
        owed = client.royalties(account.address)
    for r in owed:
        table.add_row(str(r["listing_id"]), str(r["round"]), r["cumulative"], r["claimed"], r["claimable"])
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("list")(list_version)
    app.command("listings")(listings)
    app.command("buy")(buy)
    app.command("download")(download)
    royalties_app.command("claim")(claim_royalties)
    royalties_app.command("show")(show_royalties)
    app.add_typer(royalties_app, name="royalties")
