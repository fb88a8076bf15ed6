"""Sign-In with Ethereum: built messages verify offline; every refusal names its field."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import defunct_hash_message, encode_defunct
from eth_account.signers.local import LocalAccount

from datacoop.errors import BadSignature, Gone, InvalidInput, NotAuthenticated, TooLarge
from datacoop.identity.signatures import SECP256K1_N
from datacoop.identity.siwe import MAX_MESSAGE_CHARS, SiweClaims, build_message, verify_siwe

ALICE = Account.from_key(b"\xa1" * 32)
BOB = Account.from_key(b"\xb0" * 32)
HOST = "coop.example:8000"
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def text(**override: Any) -> str:
    fields: dict[str, Any] = {
        "domain": HOST,
        "address": ALICE.address,
        "uri": f"https://{HOST}/v1/auth/siwe",
        "chain_id": 31337,
        "nonce": "n0nce1234567",
        "issued_at": NOW,
        "expiration_time": NOW + timedelta(minutes=5),
    }
    return build_message(**{**fields, **override})


def sign(message: str, account: LocalAccount = ALICE) -> str:
    return "0x" + bytes(account.sign_message(encode_defunct(text=message)).signature).hex()


def verify(message: str, signature: str, **override: Any) -> SiweClaims:
    options: dict[str, Any] = {
        "expected_domain": HOST, "expected_uri": f"https://{HOST}", "expected_chain_id": 31337, "now": NOW,
    }  # fmt: skip
    return verify_siwe(message, signature, **{**options, **override})


def test_a_built_message_verifies_and_yields_its_claims() -> None:
    # Prepare
    message = text()
    # Execute
    claims = verify(message, sign(message))
    # Assert
    assert claims == SiweClaims(
        address=ALICE.address,
        chain_id=31337,
        nonce="n0nce1234567",
        issued_at=NOW,
        expiration_time=NOW + timedelta(minutes=5),
        domain=HOST,
        uri=f"https://{HOST}/v1/auth/siwe",
    )
    assert message.startswith(f"{HOST} wants you to sign in with your Ethereum account:\n{ALICE.address}\n\n")
    assert "Expiration Time: 2025-06-01T12:05:00.000Z" in message


def test_verification_never_touches_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object) -> None:
        raise AssertionError("network used")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    message = text()
    assert verify(message, sign(message)).address == ALICE.address


@pytest.mark.parametrize(
    "garbage",
    [
        "hello",
        "",
        text().replace("Version: 1", "Version: 2"),
        text().replace(ALICE.address, ALICE.address.lower()),  # EIP-4361 wants EIP-55
        text().replace("Nonce: n0nce1234567", "Nonce: short"),
        text().replace("2025-06-01T12:05", "2025-13-01T12:05"),
        text() + "\n",
    ],
)
def test_unparseable_message_is_invalid_input(garbage: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        verify(garbage, sign(garbage))
    assert exc.value.field == "message"


def test_overlong_message_is_refused_before_parsing() -> None:
    long = text(statement="x" * MAX_MESSAGE_CHARS)
    with pytest.raises(TooLarge) as exc:
        verify(long, sign(long))
    assert exc.value.field == "message"


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"domain": "evil.example"}, "domain"),
        ({"domain": "coop.example"}, "domain"),
        ({"chain_id": 1}, "chain_id"),
    ],
)
def test_wrong_domain_or_chain_is_refused(override: dict[str, Any], field: str) -> None:
    message = text(**override)
    with pytest.raises(InvalidInput) as exc:
        verify(message, sign(message))
    assert exc.value.field == field


@pytest.mark.parametrize(
    "uri",
    [
        "https://evil.example/login",  # another site
        f"http://{HOST}/login",  # another scheme
        "https://coop.example:8443/",  # another port
        "https://coop.example.evil.example:8000/",  # a look-alike host
        "urn:uuid:2d7bb4f9-6a0e-4ab5-9c3e-1b9a5b9e1e11",  # no origin at all
    ],
)
def test_a_uri_on_another_origin_is_refused(uri: str) -> None:
    message = text(uri=uri)
    with pytest.raises(NotAuthenticated) as exc:
        verify(message, sign(message))
    assert exc.value.field == "uri" and exc.value.limit == f"https://{HOST}"


def test_a_uri_on_this_origin_signs_in() -> None:
    message = text(uri="HTTPS://COOP.example:8000/any/page?x=1")
    assert verify(message, sign(message)).uri.lower().startswith("https://coop.example:8000/")


def test_a_message_without_expiration_time_is_refused() -> None:
    message = text(expiration_time=None)
    with pytest.raises(InvalidInput) as exc:
        verify(message, sign(message))
    assert exc.value.field == "expiration_time"


@pytest.mark.parametrize("late", [timedelta(0), timedelta(seconds=1)])
def test_an_expired_message_is_gone(late: timedelta) -> None:
    message = text()
    with pytest.raises(Gone) as exc:
        verify(message, sign(message), now=NOW + timedelta(minutes=5) + late)
    assert exc.value.field == "expiration_time"


def test_a_message_is_valid_from_not_before_on() -> None:
    # Prepare
    message = text(not_before=NOW + timedelta(minutes=1))
    signature = sign(message)
    # Execute
    with pytest.raises(NotAuthenticated) as exc:
        verify(message, signature)
    claims = verify(message, signature, now=NOW + timedelta(minutes=1))
    # Assert
    assert exc.value.field == "not_before"
    assert claims.address == ALICE.address


def test_signed_by_someone_else_is_a_bad_signature() -> None:
    message = text()
    with pytest.raises(BadSignature) as exc:
        verify(message, sign(message, BOB))
    assert exc.value.field == "signature"
    assert (
        exc.value.message == f"signature was signed by {BOB.address} but the message is for {ALICE.address}"
    )


def test_text_changed_after_signing_is_a_bad_signature() -> None:
    signature = sign(text())
    with pytest.raises(BadSignature):
        verify(text(nonce="otherNonce99"), signature)


def test_high_s_twin_is_refused() -> None:
    # Prepare
    message = text()
    raw = bytes.fromhex(sign(message)[2:])
    s = int.from_bytes(raw[32:64], "big")
    twin = "0x" + (raw[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - raw[64]])).hex()
    # Execute
    with pytest.raises(BadSignature) as exc:
        verify(message, twin)
    # Assert
    assert "EIP-2" in exc.value.message


@pytest.mark.parametrize("signature", ["", "0x", "0xnothex", "0x" + "ab" * 64])
def test_malformed_signature_is_invalid_input(signature: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        verify(text(), signature)
    assert exc.value.field == "signature"


def test_erc1271_hook_decides_for_contract_wallets() -> None:
    # Prepare: a contract wallet at Alice's address whose owner is Bob; Safe-style 130-byte signature
    message = text()
    safe_signature = sign(message, BOB) + "00" * 65
    calls: list[tuple[str, bytes, bytes]] = []

    def checker(address: str, digest: bytes, signature: bytes) -> bool:
        calls.append((address, digest, signature))
        return signature == bytes.fromhex(safe_signature[2:])

    # Execute
    claims = verify(message, safe_signature, erc1271_checker=checker)
    # Assert
    assert claims.address == ALICE.address
    assert calls == [
        (ALICE.address, bytes(defunct_hash_message(text=message)), bytes.fromhex(safe_signature[2:]))
    ]
    with pytest.raises(BadSignature):
        verify(message, sign(message, BOB), erc1271_checker=checker)
    with pytest.raises(BadSignature) as exc:
        verify(message, sign(message, ALICE) + "ff" * 65, erc1271_checker=checker)
    assert "ERC-1271" in exc.value.message


def test_erc1271_hook_is_not_asked_when_the_eoa_signed() -> None:
    message = text()

    def checker(address: str, digest: bytes, signature: bytes) -> bool:
        raise AssertionError("asked")

    assert verify(message, sign(message), erc1271_checker=checker).address == ALICE.address


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"issued_at": datetime(2025, 6, 1)}, "issued_at"),
        ({"nonce": "short"}, "nonce"),
        ({"address": "0x1234"}, "address"),
        ({"domain": "a/b"}, "domain"),
        ({"statement": "two\nlines"}, "statement"),
    ],
)
def test_build_message_refuses_what_eip_4361_does_not_allow(override: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        text(**override)
    assert exc.value.field == field
