"""Sign-in with Ethereum over the API: nonces are server-issued, single-use and expire."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from tests.conftest import ManualClock

from datacoop.identity.schemas import Caller
from datacoop.identity.siwe import build_message


def _signed(api: TestClient, account: LocalAccount, clock: ManualClock, **override: object) -> dict[str, str]:
    n = api.get("/v1/auth/nonce").json()
    fields: dict[str, object] = {
        "domain": n["domain"],
        "address": account.address,
        "uri": n["uri"],
        "chain_id": n["chain_id"],
        "nonce": n["nonce"],
        "issued_at": clock.now,
        "expiration_time": clock.now + timedelta(minutes=5),
    }
    fields.update(override)
    message = build_message(**fields)  # type: ignore[arg-type]
    sig = account.sign_message(encode_defunct(text=message)).signature.hex()
    return {"message": message, "signature": "0x" + sig.removeprefix("0x")}


def test_sign_in_returns_a_session_for_the_signer(
    api: TestClient, alice: LocalAccount, clock: ManualClock
) -> None:
    # Execute
    r = api.post("/v1/auth/siwe", json=_signed(api, alice, clock))
    # Assert
    assert r.status_code == 200, r.text
    session = r.json()
    assert session["address"] == alice.address
    assert session["did"] == f"did:pkh:eip155:31337:{alice.address}"
    me = api.get("/v1/auth/me", headers={"Authorization": f"Bearer {session['token']}"})
    assert me.json() == {"address": alice.address, "did": session["did"]}


def test_a_route_sees_the_caller_as_a_frozen_value(
    api: TestClient, alice: LocalAccount, clock: ManualClock
) -> None:
    # Prepare
    token = api.post("/v1/auth/siwe", json=_signed(api, alice, clock)).json()["token"]
    auth = api.app.state.node.auth  # type: ignore[attr-defined]
    # Execute
    caller = auth.resolve(token)
    # Assert: the values a route reads, and no row to change or lazy-load from
    assert caller == Caller(id=caller.id, address=alice.address, did=f"did:pkh:eip155:31337:{alice.address}")
    with pytest.raises(dataclasses.FrozenInstanceError):
        caller.address = "0x0"  # type: ignore[misc]


def test_a_nonce_signs_in_once(api: TestClient, alice: LocalAccount, clock: ManualClock) -> None:
    body = _signed(api, alice, clock)
    assert api.post("/v1/auth/siwe", json=body).status_code == 200
    again = api.post("/v1/auth/siwe", json=body)
    assert again.status_code == 409
    assert again.json()["error"] == {
        "code": "replayed_nonce",
        "message": again.json()["error"]["message"],
        "field": "nonce",
    }


def test_unknown_nonce_is_refused(api: TestClient, alice: LocalAccount, clock: ManualClock) -> None:
    body = _signed(api, alice, clock, nonce="notissuedbyserver1")
    r = api.post("/v1/auth/siwe", json=body)
    assert r.status_code == 401
    assert r.json()["error"]["field"] == "nonce"


def test_expired_nonce_is_refused(api: TestClient, alice: LocalAccount, clock: ManualClock) -> None:
    body = _signed(api, alice, clock, expiration_time=clock.now + timedelta(hours=2))
    clock.advance(minutes=11)  # past the 10-minute nonce TTL, inside the message's own expiry
    r = api.post("/v1/auth/siwe", json=body)
    assert r.status_code == 410
    assert r.json()["error"]["field"] == "nonce"


def test_wrong_domain_and_chain_are_refused(api: TestClient, alice: LocalAccount, clock: ManualClock) -> None:
    wrong_domain = api.post("/v1/auth/siwe", json=_signed(api, alice, clock, domain="evil.example"))
    wrong_chain = api.post("/v1/auth/siwe", json=_signed(api, alice, clock, chain_id=1))
    assert (wrong_domain.status_code, wrong_domain.json()["error"]["field"]) == (400, "domain")
    assert wrong_chain.json()["error"]["field"] == "chain_id"
    assert wrong_chain.status_code == 400


def test_message_signed_by_another_key_is_refused(
    api: TestClient, alice: LocalAccount, bob: LocalAccount, clock: ManualClock
) -> None:
    body = _signed(api, alice, clock)
    body["signature"] = _signed(api, bob, clock)["signature"]
    r = api.post("/v1/auth/siwe", json=body)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "bad_signature"


def test_missing_expired_and_revoked_tokens_are_401(
    api: TestClient, alice: LocalAccount, clock: ManualClock
) -> None:
    assert api.get("/v1/auth/me").json()["error"]["field"] == "authorization"
    token = api.post("/v1/auth/siwe", json=_signed(api, alice, clock)).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    assert api.post("/v1/auth/logout", headers=auth).status_code == 204
    assert api.get("/v1/auth/me", headers=auth).status_code == 401
    token2 = api.post("/v1/auth/siwe", json=_signed(api, alice, clock)).json()["token"]
    clock.advance(days=2)
    expired = api.get("/v1/auth/me", headers={"Authorization": f"Bearer {token2}"})
    assert expired.status_code == 401
    assert "expired" in expired.json()["error"]["message"]


def test_logout_needs_a_live_session(api: TestClient, alice: LocalAccount, clock: ManualClock) -> None:
    token = api.post("/v1/auth/siwe", json=_signed(api, alice, clock)).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    assert api.post("/v1/auth/logout", headers={"Authorization": "Bearer not-a-session"}).status_code == 401
    assert api.post("/v1/auth/logout", headers=auth).status_code == 204
    again = api.post("/v1/auth/logout", headers=auth)  # that session is over: nothing to end
    assert again.status_code == 401
    assert again.json()["error"]["field"] == "authorization"


def test_a_message_for_another_sites_uri_is_refused(
    api: TestClient, alice: LocalAccount, clock: ManualClock
) -> None:
    # Prepare: the right domain, but signed for another origin's login page (a phished signature)
    refused = [
        api.post("/v1/auth/siwe", json=_signed(api, alice, clock, uri=uri))
        for uri in ("https://evil.example/login", "https://127.0.0.1:8000/", "http://127.0.0.1:8001/")
    ]
    # Assert: 401 naming the field and this node's origin; the node's own origin still signs in
    for r in refused:
        assert r.status_code == 401, r.text
        error = r.json()["error"]
        assert (error["code"], error["field"], error["limit"]) == (
            "not_authenticated", "uri", "http://127.0.0.1:8000",
        )  # fmt: skip
    own_page = _signed(api, alice, clock, uri="http://127.0.0.1:8000/app/sign-in")
    assert api.post("/v1/auth/siwe", json=own_page).status_code == 200
