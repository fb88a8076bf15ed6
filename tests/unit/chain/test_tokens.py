"""Token facts that need no chain: what a node without a default token asks for, and what is printed."""

from __future__ import annotations

import pytest
from eth_account import Account

from datacoop.chain.client import ChainClient
from datacoop.chain.tokens import (
    PermitDomain,
    TokenReader,
    _clean_symbol,
    permit_call,
    permit_typed_data,
    sign_permit,
)
from datacoop.errors import InvalidInput

TOKEN = "0x" + "ab" * 20


def test_a_node_without_a_default_token_asks_for_one() -> None:
    reader = TokenReader(ChainClient("http://127.0.0.1:9"), default=None)  # never reached: refused first
    with pytest.raises(InvalidInput) as caught:
        reader.resolve(None)
    assert caught.value.field == "token" and "no default token" in caught.value.message


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("USDC", "USDC"),
        ("[red]FAKE[/red]", "redFAKEred"),  # no markup reaches a terminal or a page
        ("A\x1b[2JB", "A2JB"),  # nor control sequences
        (b"MKR" + b"\0" * 29, "MKR"),  # bytes32 symbols of older tokens
        ("X" * 40, "X" * 16),
    ],
)
def test_symbols_are_cleaned_before_anyone_sees_them(raw: str | bytes, shown: str) -> None:
    assert _clean_symbol(raw) == shown


def test_a_signed_permit_encodes_what_was_signed() -> None:
    owner = Account.create()
    spender = "0x" + "cd" * 20
    typed = permit_typed_data(PermitDomain("USD Coin", "2", 8453, TOKEN), owner.address, spender, 5, 0, 99)
    v, r, s = sign_permit(owner, typed)
    call = permit_call(typed, (v, r, s))
    assert typed["domain"] == {
        "name": "USD Coin",
        "version": "2",
        "chainId": 8453,
        "verifyingContract": TOKEN,
    }
    assert call.to.lower() == TOKEN and call.data.startswith("0xd505accf")  # permit(address,…,bytes32)
    assert v in (27, 28) and len(r) == len(s) == 32
    assert r.hex() in call.data and s.hex() in call.data
