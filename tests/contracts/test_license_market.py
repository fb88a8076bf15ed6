"""LicenseMarket: listings, sales and their split, licence tokens, royalty pools (RELIABILITY E19, E20)."""

from __future__ import annotations

from typing import Any

import boa
import pytest
from tests.contracts.conftest import DAY, TERMS, UNIT
from tests.contracts.tree import build_tree


def events(contract: Any, name: str) -> list[Any]:
    return [log for log in contract.get_logs() if type(log).__name__ == name]


@pytest.fixture
def listing(market: Any, token: Any, dataset: int, publisher: str) -> int:
    """Version 1 of `dataset` for 1,000 tokens, 30 days, 30 % royalty (5 % operator fee)."""
    return int(market.list(dataset, 1, token.address, 1000 * UNIT, TERMS, 30 * DAY, 3000, sender=publisher))


# ---- deployment and admin ------------------------------------------------------------------


def test_the_operator_fee_is_capped_at_deployment(
    deployers: dict[str, Any], registry: Any, operator: str
) -> None:
    with boa.reverts("LicenseMarket: operator fee above cap"):
        deployers["LicenseMarket"].deploy(registry.address, operator, operator, 1001)


@pytest.mark.parametrize("which", ["registry", "operator", "fee recipient"])
def test_zero_addresses_are_refused_at_deployment(
    deployers: dict[str, Any], registry: Any, operator: str, which: str
) -> None:
    zero = "0x" + "00" * 20
    args = {"registry": registry.address, "operator": operator, "fee recipient": operator, which: zero}
    with boa.reverts(f"LicenseMarket: {which} is zero"):
        deployers["LicenseMarket"].deploy(args["registry"], args["operator"], args["fee recipient"], 0)


def test_the_admin_sets_fee_and_recipient(market: Any, admin: str, stranger: str) -> None:
    market.setOperatorFee(250, sender=admin)
    market.setFeeRecipient(stranger, sender=admin)
    assert (market.operatorFeeBps(), market.feeRecipient()) == (250, stranger)
    with boa.reverts("LicenseMarket: operator fee above cap"):
        market.setOperatorFee(1001, sender=admin)
    with boa.reverts("LicenseMarket: fee recipient is zero"):
        market.setFeeRecipient("0x" + "00" * 20, sender=admin)
    for call in (
        lambda: market.setOperatorFee(1, sender=stranger),
        lambda: market.setFeeRecipient(stranger, sender=stranger),
    ):
        with boa.reverts("access_control: account is missing role"):
            call()


# ---- list ----------------------------------------------------------------------------------


def test_the_dataset_owner_lists_a_version(market: Any, token: Any, dataset: int, publisher: str) -> None:
    listing_id = market.list(dataset, 1, token.address, 7 * UNIT, TERMS, DAY, 1500, sender=publisher)
    (listed,) = events(market, "Listed")
    assert listing_id == 1 and market.listingCount() == 1
    assert (listed.listingId, listed.datasetTokenId, listed.version, listed.price) == (
        1,
        dataset,
        1,
        7 * UNIT,
    )
    assert (listed.royaltyBps, listed.operatorFeeBps, listed.termsHash) == (1500, 500, TERMS)
    stored = market.listings(1)
    assert (stored.token, stored.duration, stored.active) == (token.address, DAY, True)
    pool = market.royaltyPool(1)
    assert (pool.token, pool.credited, pool.total, pool.paid, pool.epoch) == (token.address, 0, 0, 0, 0)


def test_the_fee_is_fixed_per_listing(
    market: Any, token: Any, dataset: int, publisher: str, admin: str
) -> None:
    first = market.list(dataset, 1, token.address, UNIT, TERMS, DAY, 0, sender=publisher)
    market.setOperatorFee(1000, sender=admin)
    second = market.list(dataset, 1, token.address, UNIT, TERMS, DAY, 0, sender=publisher)
    assert (market.listings(first).operatorFeeBps, market.listings(second).operatorFeeBps) == (500, 1000)


def test_only_the_dataset_owner_lists(market: Any, token: Any, dataset: int, stranger: str) -> None:
    with boa.reverts("LicenseMarket: not the dataset owner"):
        market.list(dataset, 1, token.address, UNIT, TERMS, DAY, 0, sender=stranger)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"version": 0}, "LicenseMarket: no such version"),
        ({"version": 2}, "LicenseMarket: no such version"),
        ({"price": 0}, "LicenseMarket: price is zero"),
        ({"terms": b"\0" * 32}, "LicenseMarket: terms hash is zero"),
        ({"duration": 0}, "LicenseMarket: bad duration"),
        ({"duration": 100 * 365 * DAY + 1}, "LicenseMarket: bad duration"),
        ({"royalty": 9501}, "LicenseMarket: shares above 100%"),
        ({"token": "0x" + "00" * 20}, "cumulative_merkle: token is zero"),
    ],
)
def test_a_bad_listing_reverts(
    market: Any, token: Any, dataset: int, publisher: str, change: dict[str, Any], reason: str
) -> None:
    args: dict[str, Any] = {
        "version": 1,
        "token": token.address,
        "price": UNIT,
        "terms": TERMS,
        "duration": DAY,
        "royalty": 100,
        **change,
    }
    with boa.reverts(reason):
        market.list(
            dataset,
            args["version"],
            args["token"],
            args["price"],
            args["terms"],
            args["duration"],
            args["royalty"],
            sender=publisher,
        )


def test_royalty_and_fee_may_take_everything(market: Any, token: Any, dataset: int, publisher: str) -> None:
    market.list(dataset, 1, token.address, UNIT, TERMS, DAY, 9500, sender=publisher)


def test_the_owner_pauses_and_resumes_a_listing(
    market: Any, listing: int, publisher: str, stranger: str, buyer: str
) -> None:
    market.setListingActive(listing, False, sender=publisher)
    with boa.reverts("LicenseMarket: listing not active"):
        market.buy(listing, sender=buyer)
    with boa.reverts("LicenseMarket: not the dataset owner"):
        market.setListingActive(listing, True, sender=stranger)
    with boa.reverts("LicenseMarket: unknown listing"):
        market.setListingActive(99, True, sender=publisher)
    market.setListingActive(listing, True, sender=publisher)
    market.buy(listing, sender=buyer)


# ---- buy -----------------------------------------------------------------------------------


def test_buy_splits_the_price_and_mints_a_licence(
    market: Any, token: Any, listing: int, buyer: str, publisher: str, dataset: int
) -> None:
    # Execute
    licence_id = market.buy(listing, sender=buyer)
    (sold,) = events(market, "LicenceSold")
    # Assert: 30 % royalty, 5 % fee, 65 % publisher
    fee_recipient = market.feeRecipient()
    assert (sold.amount, sold.royalty, sold.operatorFee, sold.publisherShare) == (
        1000 * UNIT,
        300 * UNIT,
        50 * UNIT,
        650 * UNIT,
    )
    assert (token.balanceOf(publisher), token.balanceOf(fee_recipient)) == (650 * UNIT, 50 * UNIT)
    assert token.balanceOf(market.address) == 300 * UNIT == market.royaltyPool(listing).credited
    assert licence_id == 1 and market.ownerOf(1) == buyer
    expires = boa.env.timestamp + 30 * DAY
    assert market.licenceExpires(1) == expires == sold.expires
    view = market.licenceOf(1)
    assert (view.holder, view.listingId, view.datasetTokenId, view.version, view.termsHash, view.expires) == (
        buyer,
        listing,
        dataset,
        1,
        TERMS,
        expires,
    )
    assert market.licenceCount() == 1


@pytest.mark.parametrize(("price", "royalty_bps"), [(999, 3333), (1, 9500), (7, 1), (10**28 + 3, 7777)])
def test_the_split_adds_up_to_the_price(
    market: Any, token: Any, dataset: int, publisher: str, buyer: str, price: int, royalty_bps: int
) -> None:
    """Rounding: royalty and fee round down, the publisher receives the remainder."""
    token.mint(buyer, price)
    listing_id = market.list(dataset, 1, token.address, price, TERMS, DAY, royalty_bps, sender=publisher)
    market.buy(listing_id, sender=buyer)
    (sold,) = events(market, "LicenceSold")
    assert sold.royalty == price * royalty_bps // 10_000
    assert sold.operatorFee == price * 500 // 10_000
    assert sold.royalty + sold.operatorFee + sold.publisherShare == price


def test_the_publisher_is_the_dataset_owner_at_the_time_of_sale(
    market: Any,
    registry: Any,
    token: Any,
    listing: int,
    dataset: int,
    publisher: str,
    buyer: str,
    stranger: str,
) -> None:
    registry.transferFrom(publisher, stranger, dataset, sender=publisher)
    market.buy(listing, sender=buyer)
    assert (token.balanceOf(publisher), token.balanceOf(stranger)) == (0, 650 * UNIT)


def test_a_fee_on_transfer_sale_splits_what_arrived(
    deployers: dict[str, Any], market: Any, dataset: int, publisher: str
) -> None:
    fee_token = deployers["FeeOnTransferToken"].deploy()
    buyer = boa.env.generate_address()
    fee_token.mint(buyer, 10_000)
    fee_token.approve(market.address, 10_000, sender=buyer)
    listing_id = market.list(dataset, 1, fee_token.address, 10_000, TERMS, DAY, 3000, sender=publisher)
    market.buy(listing_id, sender=buyer)
    (sold,) = events(market, "LicenceSold")
    assert sold.amount == 9_900
    assert (sold.royalty, sold.operatorFee, sold.publisherShare) == (2_970, 495, 6_435)
    assert market.royaltyPool(listing_id).credited == 2_970 == fee_token.balanceOf(market.address)


def test_buy_of_an_unknown_listing_reverts(market: Any, buyer: str) -> None:
    with boa.reverts("LicenseMarket: listing not active"):
        market.buy(5, sender=buyer)


def test_buy_without_allowance_reverts(market: Any, token: Any, listing: int, stranger: str) -> None:
    token.mint(stranger, 1000 * UNIT)
    with boa.reverts():
        market.buy(listing, sender=stranger)
    assert market.licenceCount() == 0


def test_a_licence_grants_access_until_it_expires(market: Any, listing: int, buyer: str) -> None:
    """RELIABILITY E20: denied at and after `expires`."""
    licence_id = market.buy(listing, sender=buyer)
    assert market.isLicenceValid(licence_id, buyer)
    boa.env.time_travel(seconds=30 * DAY - 1)
    assert market.isLicenceValid(licence_id, buyer)
    boa.env.time_travel(seconds=1)
    assert not market.isLicenceValid(licence_id, buyer)


def test_a_transferred_licence_is_valid_for_its_new_holder_only(
    market: Any, listing: int, buyer: str, stranger: str
) -> None:
    """RELIABILITY E20: after a transfer the old holder is denied."""
    licence_id = market.buy(listing, sender=buyer)
    market.transferFrom(buyer, stranger, licence_id, sender=buyer)
    assert not market.isLicenceValid(licence_id, buyer)
    assert market.isLicenceValid(licence_id, stranger)
    assert market.licenceOf(licence_id).holder == stranger


def test_an_unknown_licence_reads_as_zero(market: Any) -> None:
    assert market.licenceExpires(9) == 0
    assert market.licenceOf(9).holder == "0x" + "00" * 20
    assert not market.isLicenceValid(9, "0x" + "00" * 20)


def test_a_buyer_contract_cannot_reenter_while_its_licence_is_minted(
    deployers: dict[str, Any], market: Any, token: Any, listing: int, publisher: str
) -> None:
    """RELIABILITY E19: `onERC721Received` buying again is refused; one licence, one payment."""
    # Prepare
    receiver = deployers["ReentrantReceiver"].deploy()
    token.mint(receiver.address, 5000 * UNIT)
    receiver.approveToken(token.address, market.address, 2**256 - 1)
    receiver.arm(market.address, market.buy.prepare_calldata(listing))
    # Execute
    receiver.execute(market.address, market.buy.prepare_calldata(listing))
    # Assert
    assert receiver.reentered() and not receiver.reentrySucceeded()
    assert receiver.received() == 1 and market.balanceOf(receiver.address) == 1
    assert token.balanceOf(receiver.address) == 4000 * UNIT
    assert market.licenceCount() == 1
    assert token.balanceOf(publisher) == 650 * UNIT


def test_a_buyer_contract_without_receiver_hook_cannot_buy(
    market: Any, token: Any, listing: int, escrow: Any
) -> None:
    # Any contract without onERC721Received: the escrow is one. Nothing is paid either.
    token.mint(escrow.address, 5000 * UNIT)
    with boa.reverts():
        market.buy(listing, sender=escrow.address)


# ---- royalty pools -------------------------------------------------------------------------


def test_contributors_claim_royalties_against_posted_roots(
    market: Any, token: Any, listing: int, buyer: str, operator: str, contributors: list[str]
) -> None:
    # Prepare: two sales credit 600 tokens of royalties
    alice, bob = contributors[:2]
    market.buy(listing, sender=buyer)
    market.buy(listing, sender=buyer)
    tree = build_tree([(alice, 200 * UNIT), (bob, 400 * UNIT)])
    with boa.reverts("cumulative_merkle: total above funded"):
        market.postRoyaltyRoot(listing, 1, tree.root, 600 * UNIT + 1, sender=operator)
    with boa.reverts("access_control: account is missing role"):
        market.postRoyaltyRoot(listing, 1, tree.root, 600 * UNIT, sender=buyer)
    # Execute
    market.postRoyaltyRoot(listing, 1, tree.root, 600 * UNIT, sender=operator)
    market.claimRoyalty(listing, alice, 200 * UNIT, tree.proof(alice, 200 * UNIT))
    (claimed,) = events(market, "RoyaltyClaimed")
    # Assert
    assert (claimed.listingId, claimed.account, claimed.amount) == (listing, alice, 200 * UNIT)
    assert token.balanceOf(alice) == 200 * UNIT
    assert market.claimed(listing, alice) == 200 * UNIT
    assert market.claimed(listing + 2**96, alice) == 0  # no listing has that id; no aliasing
    pool = market.royaltyPool(listing)
    assert (pool.credited, pool.total, pool.paid, pool.epoch, pool.root) == (
        600 * UNIT,
        600 * UNIT,
        200 * UNIT,
        1,
        tree.root,
    )
    with boa.reverts("cumulative_merkle: nothing to claim"):
        market.claimRoyalty(listing, alice, 200 * UNIT, tree.proof(alice, 200 * UNIT))
    with boa.reverts("cumulative_merkle: invalid proof"):
        market.claimRoyalty(listing, bob, 500 * UNIT, tree.proof(bob, 400 * UNIT))


def test_royalty_pools_never_close(
    market: Any, token: Any, listing: int, buyer: str, operator: str, contributors: list[str]
) -> None:
    alice, bob = contributors[:2]
    market.buy(listing, sender=buyer)
    tree = build_tree([(alice, 100 * UNIT), (bob, 200 * UNIT)])
    market.postRoyaltyRoot(listing, 1, tree.root, 300 * UNIT, sender=operator)
    boa.env.time_travel(seconds=5 * 365 * DAY)
    market.claimRoyalty(listing, bob, 200 * UNIT, tree.proof(bob, 200 * UNIT))
    assert token.balanceOf(bob) == 200 * UNIT


def test_a_listing_without_royalty_credits_nothing(
    market: Any, token: Any, dataset: int, publisher: str, buyer: str, operator: str
) -> None:
    listing_id = market.list(dataset, 1, token.address, 100, TERMS, DAY, 0, sender=publisher)
    market.buy(listing_id, sender=buyer)
    assert market.royaltyPool(listing_id).credited == 0
    with boa.reverts("cumulative_merkle: total above funded"):
        market.postRoyaltyRoot(listing_id, 1, b"\1" * 32, 1, sender=operator)
