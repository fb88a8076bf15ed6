"""Addresses, did:pkh, jurisdictions and consent hashes: normalised, or refused naming the field."""

from __future__ import annotations

import pytest
from eth_utils.crypto import keccak
from hypothesis import given
from hypothesis import strategies as st

from datacoop.errors import InvalidInput
from datacoop.identity.addresses import (
    consent_hash,
    did_pkh,
    normalize_address,
    normalize_jurisdiction,
    parse_did_pkh,
)

CHECKSUMMED = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"  # the EIP-55 example


@pytest.mark.parametrize("spelling", [CHECKSUMMED, CHECKSUMMED.lower(), "0x" + CHECKSUMMED[2:].upper()])
def test_address_spellings_normalise_to_the_checksum(spelling: str) -> None:
    assert normalize_address(spelling) == CHECKSUMMED


@pytest.mark.parametrize(
    "bad",
    [
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD",  # mixed case, wrong checksum: a typo
        CHECKSUMMED[2:],  # no 0x
        CHECKSUMMED[:-1],  # 39 hex digits
        CHECKSUMMED + "00",
        "0x" + "g" * 40,
        " " + CHECKSUMMED,
        "",
        42,
        None,
    ],
)
def test_anything_but_an_address_is_refused_naming_the_field(bad: object) -> None:
    with pytest.raises(InvalidInput) as exc:
        normalize_address(bad, field="requester")  # type: ignore[arg-type]
    assert exc.value.field == "requester"
    assert "requester" in exc.value.message


def test_did_pkh_round_trips() -> None:
    # Execute
    did = did_pkh(31337, CHECKSUMMED.lower())
    # Assert
    assert did == f"did:pkh:eip155:31337:{CHECKSUMMED}"
    assert parse_did_pkh(did) == (31337, CHECKSUMMED)


@pytest.mark.parametrize("chain_id", [0, -1, True, "1", 10**32])
def test_did_pkh_refuses_a_bad_chain_id(chain_id: object) -> None:
    with pytest.raises(InvalidInput) as exc:
        did_pkh(chain_id, CHECKSUMMED)  # type: ignore[arg-type]
    assert exc.value.field == "chain_id"


@pytest.mark.parametrize(
    "did",
    [
        f"did:pkh:eip155:0:{CHECKSUMMED}",
        f"did:pkh:eip155:01:{CHECKSUMMED}",
        f"did:pkh:solana:1:{CHECKSUMMED}",
        f"did:key:eip155:1:{CHECKSUMMED}",
        f"did:pkh:eip155:1:{CHECKSUMMED}:extra",
        "did:pkh:eip155:1:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD",
        "did:pkh:eip155:1",
        "",
    ],
)
def test_parse_did_pkh_refuses_other_dids(did: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_did_pkh(did)
    assert exc.value.field == "did"


@given(chain_id=st.integers(min_value=1, max_value=2**64), raw=st.binary(min_size=20, max_size=20))
def test_did_pkh_round_trips_for_any_account(chain_id: int, raw: bytes) -> None:
    address = normalize_address("0x" + raw.hex())
    assert parse_did_pkh(did_pkh(chain_id, address)) == (chain_id, address)


@pytest.mark.parametrize(("code", "expected"), [("KE", "KE"), ("ke", "KE"), (" de ", "DE"), ("gb", "GB")])
def test_jurisdiction_is_an_upper_case_alpha_2_code(code: str, expected: str) -> None:
    assert normalize_jurisdiction(code) == expected


@pytest.mark.parametrize(
    ("code", "hint"),
    [("UK", "'GB'"), ("KEN", "'KE' (Kenya)"), ("Kenya", "'KE' (Kenya)"), ("germany", "'DE' (Germany)")],
)
def test_unknown_jurisdiction_suggests_the_code(code: str, hint: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        normalize_jurisdiction(code, field="allowed_jurisdictions.2")
    assert exc.value.field == "allowed_jurisdictions.2"
    assert exc.value.message.endswith(f"Did you mean {hint}?")


@pytest.mark.parametrize("code", ["ZZ", "", "K", "QQQQ", "É1", None])
def test_unassigned_jurisdiction_is_refused(code: object) -> None:
    with pytest.raises(InvalidInput) as exc:
        normalize_jurisdiction(code)  # type: ignore[arg-type]
    assert exc.value.field == "jurisdiction"


def test_consent_hash_is_keccak256_of_the_utf8_text() -> None:
    text = "J'accepte — 我同意"
    assert consent_hash("") == "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    assert consent_hash(text) == "0x" + keccak(text.encode("utf-8")).hex()
    assert consent_hash(text) != consent_hash(text + " ")
