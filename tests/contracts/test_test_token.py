"""TestToken: a snekmate ERC-20 anyone may mint (local chains only)."""

from __future__ import annotations

from typing import Any

import boa


def test_anyone_mints_and_the_erc20_surface_works(token: Any, stranger: str, requester: str) -> None:
    token.mint(stranger, 100, sender=stranger)
    assert token.transfer(requester, 40, sender=stranger)
    token.approve(requester, 10, sender=stranger)
    assert token.transferFrom(stranger, requester, 10, sender=requester)
    assert (token.balanceOf(stranger), token.balanceOf(requester), token.totalSupply()) == (50, 50, 100)
    assert (token.name(), token.symbol(), token.decimals()) == ("DataCoop Test", "DCT", 18)


def test_transfers_beyond_the_balance_revert(token: Any, stranger: str, requester: str) -> None:
    with boa.reverts("erc20: transfer amount exceeds balance"):
        token.transfer(requester, 1, sender=stranger)


def test_the_minter_role_machinery_is_not_exposed(token: Any) -> None:
    names = {item.get("name") for item in token.abi}
    assert "mint" in names
    assert not names & {"set_minter", "is_minter"}
