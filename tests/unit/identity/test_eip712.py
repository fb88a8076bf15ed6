"""EIP-712 submissions: round trips, replay across domains, tampering, and the signature policy."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from hypothesis import given, settings
from hypothesis import strategies as st

from datacoop.errors import BadSignature, Gone, InvalidInput
from datacoop.identity.addresses import consent_hash
from datacoop.identity.eip712 import (
    SUBMISSION_TYPES,
    Eip712Domain,
    SubmissionMessage,
    digest_typed,
    recover_typed,
    sign_typed,
    typed_data_json,
    verify_submission,
)
from datacoop.identity.signatures import SECP256K1_N

CID = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"
CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
DEADLINE = 1_900_000_000
ALICE = Account.from_key(b"\xa1" * 32)
BOB = Account.from_key(b"\xb0" * 32)
DOMAIN = Eip712Domain(chain_id=31337, verifying_contract=CONTRACT)


def message(**override: Any) -> SubmissionMessage:
    fields: dict[str, Any] = {
        "contributor": ALICE.address,
        "task_id": 3,
        "cid": CID,
        "consent_hash": consent_hash("I agree."),
        "jurisdiction": "KE",
        "nonce": 7,
        "deadline": DEADLINE,
    }
    return SubmissionMessage(**{**fields, **override})


def signed(account: LocalAccount = ALICE, domain: Eip712Domain = DOMAIN, **override: Any) -> str:
    return sign_typed(account.key, message(**override).to_typed_data(domain))


def with_bytes(signature: str, start: int, new: bytes) -> str:
    raw = bytes.fromhex(signature[2:])
    return "0x" + (raw[:start] + new + raw[start + len(new) :]).hex()


def test_submission_types_are_the_documented_ones() -> None:
    assert SUBMISSION_TYPES == {
        "Submission": [
            {"name": "contributor", "type": "address"},
            {"name": "taskId", "type": "uint256"},
            {"name": "cid", "type": "string"},
            {"name": "consentHash", "type": "bytes32"},
            {"name": "jurisdiction", "type": "string"},
            {"name": "nonce", "type": "uint256"},
            {"name": "deadline", "type": "uint256"},
        ]
    }


def test_typed_data_json_describes_domain_and_types() -> None:
    body = typed_data_json(DOMAIN)
    assert body["domain"] == {
        "name": "DataCoop",
        "version": "1",
        "chainId": 31337,
        "verifyingContract": CONTRACT,
    }
    assert body["types"]["Submission"] == SUBMISSION_TYPES["Submission"]
    assert [f["name"] for f in body["types"]["EIP712Domain"]] == [
        "name",
        "version",
        "chainId",
        "verifyingContract",
    ]


def test_sign_and_recover_round_trip_and_agree_with_eth_account() -> None:
    # Prepare: the JSON a wallet would receive, through a real JSON round trip
    typed = json.loads(json.dumps(message().to_typed_data(DOMAIN)))
    # Execute
    signature = sign_typed(ALICE.key, typed)
    # Assert
    assert recover_typed(typed, signature) == ALICE.address
    assert (
        Account.recover_message(encode_typed_data(full_message=typed), signature=signature) == ALICE.address
    )
    # the digest is exactly what eth-account signs: the same key over it gives the same signature
    assert "0x" + bytes(Account.unsafe_sign_hash(digest_typed(typed), ALICE.key).signature).hex() == signature
    verify_submission(DOMAIN, message(), signature, expected_signer=ALICE.address, now=DEADLINE)


@pytest.mark.parametrize(
    "other",
    [
        dataclasses.replace(DOMAIN, chain_id=1),
        dataclasses.replace(DOMAIN, verifying_contract="0x" + "11" * 20),
        dataclasses.replace(DOMAIN, name="OtherCoop"),
        dataclasses.replace(DOMAIN, version="2"),
    ],
    ids=["chain_id", "verifying_contract", "name", "version"],
)
def test_a_signature_from_another_domain_does_not_verify(other: Eip712Domain) -> None:
    # Prepare
    signature = signed(domain=other)
    # Execute
    with pytest.raises(BadSignature) as exc:
        verify_submission(DOMAIN, message(), signature, expected_signer=ALICE.address, now=0)
    # Assert
    assert exc.value.field == "signature"
    assert digest_typed(message().to_typed_data(other)) != digest_typed(message().to_typed_data(DOMAIN))


@pytest.mark.parametrize(
    "change",
    [
        {"contributor": BOB.address},
        {"task_id": 4},
        {"cid": CID[:-1] + "a"},
        {"consent_hash": consent_hash("I agree!")},
        {"jurisdiction": "DE"},
        {"nonce": 8},
        {"deadline": DEADLINE + 1},
    ],
    ids=lambda change: next(iter(change)),
)
def test_tampering_any_field_breaks_verification(change: dict[str, Any]) -> None:
    signature = signed()
    with pytest.raises(BadSignature):
        verify_submission(DOMAIN, message(**change), signature, expected_signer=ALICE.address, now=0)


def test_signed_by_one_account_but_sent_by_another_names_both() -> None:
    with pytest.raises(BadSignature) as exc:
        verify_submission(DOMAIN, message(), signed(BOB), expected_signer=ALICE.address, now=0)
    assert exc.value.message == f"signature was signed by {BOB.address} but sent by {ALICE.address}"
    assert exc.value.field == "signature"


def test_a_message_naming_another_contributor_is_refused() -> None:
    # Prepare: Alice signs a message that claims Bob contributed
    signature = signed(ALICE, contributor=BOB.address)
    # Execute
    with pytest.raises(BadSignature) as exc:
        verify_submission(
            DOMAIN, message(contributor=BOB.address), signature, expected_signer=ALICE.address, now=0
        )
    # Assert
    assert f"names contributor {BOB.address}" in exc.value.message


def test_past_the_deadline_is_gone() -> None:
    signature = signed()
    verify_submission(DOMAIN, message(), signature, expected_signer=ALICE.address, now=DEADLINE)
    with pytest.raises(Gone) as exc:
        verify_submission(DOMAIN, message(), signature, expected_signer=ALICE.address, now=DEADLINE + 1)
    assert exc.value.field == "deadline"


def test_high_s_twin_is_refused_though_eth_account_accepts_it() -> None:
    # Prepare: s' = n - s with v flipped is the other valid signature of the same digest (EIP-2)
    typed = message().to_typed_data(DOMAIN)
    raw = bytes.fromhex(signed()[2:])
    s = int.from_bytes(raw[32:64], "big")
    twin = "0x" + (raw[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - raw[64]])).hex()
    assert Account.recover_message(encode_typed_data(full_message=typed), signature=twin) == ALICE.address
    # Execute
    with pytest.raises(BadSignature) as exc:
        recover_typed(typed, twin)
    # Assert
    assert "EIP-2" in exc.value.message
    assert exc.value.field == "signature"


def test_v_0_and_1_are_read_as_27_and_28() -> None:
    # Prepare
    typed = message().to_typed_data(DOMAIN)
    signature = signed()
    v = bytes.fromhex(signature[2:])[64]
    # Execute
    low_v = with_bytes(signature, 64, bytes([v - 27]))
    # Assert
    assert v in (27, 28)
    assert recover_typed(typed, low_v) == ALICE.address
    # the other parity is read as the other recovery id, not silently the same signer
    assert recover_typed(typed, with_bytes(signature, 64, bytes([28 - v]))) != ALICE.address


@pytest.mark.parametrize("v", [2, 26, 29, 35, 36, 0x7F, 0xFF])
def test_other_v_values_are_refused(v: int) -> None:
    with pytest.raises(InvalidInput) as exc:
        recover_typed(message().to_typed_data(DOMAIN), with_bytes(signed(), 64, bytes([v])))
    assert exc.value.field == "signature"
    assert f"got {v}" in exc.value.message


def test_eip_2098_compact_signature_is_refused_clearly() -> None:
    # Prepare: yParity folded into the top bit of s
    raw = bytes.fromhex(signed()[2:])
    y_parity_and_s = ((raw[64] - 27) << 255) | int.from_bytes(raw[32:64], "big")
    compact = "0x" + (raw[:32] + y_parity_and_s.to_bytes(32, "big")).hex()
    # Execute
    with pytest.raises(InvalidInput) as exc:
        recover_typed(message().to_typed_data(DOMAIN), compact)
    # Assert
    assert exc.value.field == "signature"
    assert "EIP-2098" in exc.value.message


@pytest.mark.parametrize(
    "signature",
    [
        "",
        "0x",
        "ab" * 65,
        "0x" + "zz" * 65,
        "0x" + "ab" * 64 + "1",
        "0x" + " ".join(["ab"] * 65),  # bytes.fromhex alone would accept this
        "0x" + "ab" * 66,
        "0x" + "ab" * 10,
        65,
    ],
)
def test_malformed_signatures_are_invalid_input(signature: Any) -> None:
    with pytest.raises(InvalidInput) as exc:
        recover_typed(message().to_typed_data(DOMAIN), signature)
    assert exc.value.field == "signature"


@pytest.mark.parametrize(
    ("start", "value"),
    [(0, bytes(32)), (32, bytes(32)), (0, SECP256K1_N.to_bytes(32, "big")), (0, b"\xff" * 32)],
    ids=["r=0", "s=0", "r=n", "r>n"],
)
def test_r_and_s_out_of_range_are_bad_signatures(start: int, value: bytes) -> None:
    with pytest.raises(BadSignature):
        recover_typed(message().to_typed_data(DOMAIN), with_bytes(signed(), start, value))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("contributor", "0x123"),
        ("task_id", -1),
        ("task_id", 2**256),
        ("nonce", True),
        ("deadline", "1900000000"),
        ("consent_hash", "0x" + "zz" * 32),
        ("consent_hash", "0x1234"),
        ("consent_hash", "0x" + "ab " * 21 + " "),  # 66 characters that bytes.fromhex accepts
        ("cid", None),
        ("jurisdiction", 254),
    ],
)
def test_message_fields_are_validated_by_their_solidity_type(field: str, value: Any) -> None:
    with pytest.raises(InvalidInput) as exc:
        message(**{field: value})
    assert exc.value.field == field


def test_message_values_are_normalised() -> None:
    m = message(contributor=ALICE.address.lower(), consent_hash=consent_hash("x").upper().replace("0X", "0x"))
    assert (m.contributor, m.consent_hash) == (ALICE.address, consent_hash("x"))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"chain_id": 0, "verifying_contract": CONTRACT}, "chain_id"),
        ({"chain_id": 1, "verifying_contract": "x"}, "verifying_contract"),
        ({"chain_id": 1, "verifying_contract": CONTRACT, "name": None}, "name"),
    ],
)
def test_domain_is_validated(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        Eip712Domain(**kwargs)
    assert exc.value.field == field


def test_malformed_typed_data_is_invalid_input() -> None:
    typed = message().to_typed_data(DOMAIN)
    del typed["message"]["consentHash"]
    with pytest.raises(InvalidInput) as exc:
        digest_typed(typed)
    assert exc.value.field == "typed_data"


_keys = st.integers(min_value=1, max_value=SECP256K1_N - 1).map(lambda k: k.to_bytes(32, "big"))
_uint = st.integers(min_value=0, max_value=2**256 - 1)


@settings(max_examples=30, deadline=None)
@given(
    key=_keys,
    task_id=_uint,
    cid=st.text(max_size=80),
    consent=st.binary(min_size=32, max_size=32),
    jurisdiction=st.text(max_size=4),
    nonce=_uint,
    deadline=_uint,
    chain_id=st.integers(min_value=1, max_value=2**64),
)
def test_any_message_signed_by_any_key_verifies(
    key: bytes,
    task_id: int,
    cid: str,
    consent: bytes,
    jurisdiction: str,
    nonce: int,
    deadline: int,
    chain_id: int,
) -> None:
    # Prepare
    account = Account.from_key(key)
    domain = Eip712Domain(chain_id=chain_id, verifying_contract=CONTRACT)
    m = SubmissionMessage(
        contributor=account.address,
        task_id=task_id,
        cid=cid,
        consent_hash="0x" + consent.hex(),
        jurisdiction=jurisdiction,
        nonce=nonce,
        deadline=deadline,
    )
    typed = m.to_typed_data(domain)
    # Execute
    signature = sign_typed(account.key, typed)
    # Assert: ours and eth-account's recovery agree, and the signer's s is low
    verify_submission(domain, m, signature, expected_signer=account.address, now=deadline)
    assert (
        Account.recover_message(encode_typed_data(full_message=typed), signature=signature) == account.address
    )
    assert int(signature[66:130], 16) <= SECP256K1_N // 2
