"""EIP-712 submissions are verified over exactly what was signed, made here with eth_account alone.

A third-party wallet signs the strings it sends; the node recovers over those same strings, and
only then refuses a spelling it does not store (422 naming the canonical form). Malleated
spellings of one signature never make a second submission (RELIABILITY C.14).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from eth_account import Account
from eth_account.datastructures import SignedMessage
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from tests.unit.review.review_world import World

from datacoop.app import Node
from datacoop.client import DataCoopClient
from datacoop.errors import Unprocessable
from datacoop.identity.signatures import SECP256K1_N
from datacoop.tasks.schemas import TaskPublic


@pytest.fixture
def world(node: Node, sdk: Any, requester: DataCoopClient, contributor: DataCoopClient, stakes: Any) -> World:
    return World(node, sdk, requester, contributor, stakes)


@pytest.fixture
def cid(contributor: DataCoopClient) -> str:
    return contributor.upload(b"\xff\xd8 a photo signed by a third-party wallet \xff\xd9").cid


def _sign(api: TestClient, account: LocalAccount, task: TaskPublic, **values: Any) -> SignedMessage:
    """What a wallet's eth_signTypedData_v4 does with the node's published types and these values."""
    published = api.get("/v1/eip712").json()
    typed = {
        "types": {name: published["types"][name] for name in ("EIP712Domain", "Submission")},
        "primaryType": "Submission",
        "domain": published["domain"],
        "message": {"contributor": account.address, "taskId": task.id, "consentHash": task.consent_hash,
                    **values},
    }  # fmt: skip
    return Account.sign_message(encode_typed_data(full_message=typed), account.key)


def _post(api: TestClient, who: DataCoopClient, task: TaskPublic, signature: bytes, **values: Any) -> Any:
    body = {
        "cid": values["cid"],
        "consent_hash": task.consent_hash,
        "jurisdiction": values["jurisdiction"],
        "nonce": values["nonce"],
        "deadline": values["deadline"],
        "signature": "0x" + signature.hex(),
    }
    return api.post(
        f"/v1/tasks/{task.id}/submissions", json=body, headers={"Authorization": f"Bearer {who._token}"}
    )


def _values(cid: str, jurisdiction: str = "KE", nonce: int = 1) -> dict[str, Any]:
    return {"cid": cid, "jurisdiction": jurisdiction, "nonce": nonce, "deadline": int(time.time()) + 3600}


def test_a_canonical_submission_is_verified_over_what_the_wallet_signed(
    api: TestClient, contributor: DataCoopClient, bob: LocalAccount, task: TaskPublic, cid: str
) -> None:
    values = _values(cid)
    signed = _sign(api, bob, task, **values)
    r = _post(api, contributor, task, bytes(signed.signature), **values)
    assert r.status_code == 201, r.text
    assert r.json()["digest"] == "0x" + bytes(signed.message_hash).hex()


@pytest.mark.parametrize(
    ("field", "sent", "canonical"),
    [("jurisdiction", "ke", "KE"), ("jurisdiction", "Ke", "KE"), ("cid", "upper", "lower")],
)
def test_a_non_canonical_value_signed_as_sent_is_a_422_naming_the_canonical_form(
    api: TestClient, contributor: DataCoopClient, bob: LocalAccount, task: TaskPublic, cid: str,
    field: str, sent: str, canonical: str,
) -> None:  # fmt: skip
    # Prepare: the third-party wallet signs the value exactly as it will send it
    spelled = {"upper": cid.upper(), "lower": cid}
    values = _values(cid)
    values[field] = spelled.get(sent, sent)
    signed = _sign(api, bob, task, **values)
    # Execute
    r = _post(api, contributor, task, bytes(signed.signature), **values)
    # Assert: not "signed by someone else": the signature was checked over what was signed
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert (error["code"], error["field"], error["limit"]) == (
        "unprocessable",
        field,
        spelled.get(canonical, canonical),
    )
    assert "canonical" in error["message"] and "signed by" not in error["message"]
    assert contributor.my_submissions() == []


def test_the_canonical_forms_are_published(api: TestClient) -> None:
    canonical = api.get("/v1/eip712").json()["canonical"]["Submission"]
    assert "upper case" in canonical["jurisdiction"] and "lower case" in canonical["cid"]


def _malleated(signature: bytes) -> bytes:
    """The other valid signature of the same digest: s' = n - s, the recovery id flipped (EIP-2)."""
    r, s, v = signature[:32], int.from_bytes(signature[32:64], "big"), signature[64]
    return r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])


def _compact(signature: bytes) -> bytes:
    """EIP-2098: r ‖ (yParity << 255 | s), 64 bytes."""
    s = int.from_bytes(signature[32:64], "big") | ((signature[64] - 27) << 255)
    return signature[:32] + s.to_bytes(32, "big")


def test_malleated_spellings_of_a_signature_never_make_a_second_submission(
    api: TestClient, contributor: DataCoopClient, bob: LocalAccount, task: TaskPublic, cid: str
) -> None:
    # Prepare: one accepted submission
    values = _values(cid, nonce=42)
    signature = bytes(_sign(api, bob, task, **values).signature)
    assert _post(api, contributor, task, signature, **values).status_code == 201
    # Execute: the same signature spelled three other ways
    high_s = _post(api, contributor, task, _malleated(signature), **values)
    compact = _post(api, contributor, task, _compact(signature), **values)
    v_01 = _post(api, contributor, task, signature[:64] + bytes([signature[64] - 27]), **values)
    # Assert: high s refused, compact refused, v ∈ {0, 1} is the same signature and its nonce is spent
    assert (high_s.status_code, high_s.json()["error"]["code"]) == (401, "bad_signature")
    assert compact.status_code in (400, 422) and compact.json()["error"]["field"] == "signature"
    assert (v_01.status_code, v_01.json()["error"]["code"]) == (409, "replayed_nonce")
    assert len(contributor.my_submissions()) == 1


def test_v_zero_or_one_is_accepted_as_a_spelling_of_27_or_28(
    api: TestClient, contributor: DataCoopClient, bob: LocalAccount, task: TaskPublic, cid: str
) -> None:
    values = _values(cid, nonce=43)
    signature = bytes(_sign(api, bob, task, **values).signature)
    r = _post(api, contributor, task, signature[:64] + bytes([signature[64] - 27]), **values)
    assert r.status_code == 201, r.text


def test_a_vote_with_a_repeated_label_is_refused_not_verified_over_another_list(
    api: TestClient, world: World
) -> None:
    # Prepare: an item in review of a task with labels, and a qualified validator
    task = world.task(k=1, labels=["mask", "n95"])
    v = world.validator(0x2101)
    world.qualify(v)
    world.in_review(task, b"an item to label twice")
    item = world.next_real(v)
    assert item is not None
    # Execute: the wallet signs the labels exactly as it sends them, one of them twice
    with pytest.raises(Unprocessable) as refused:
        v.vote(item, "accept", ["mask", "mask"])
    # Assert: a 422 naming the repeated label, not "signed by someone else"
    assert refused.value.field == "labels.1"
    assert v.vote(item, "accept", ["n95", "mask"]).labels == ["n95", "mask"]
