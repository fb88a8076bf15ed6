"""A credential in a URL that is not ASCII is refused like any wrong one (403), never a TypeError 500.

``hmac.compare_digest`` raises TypeError on a str holding non-ASCII characters, so each
comparison is made over bytes.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from datacoop.client import DataCoopClient

STRANGE = ["é", "ß.ü", "x.\u00ff", "签名", "abc.\U0001f600"]


def _auth(client: DataCoopClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {client._token}"}


@pytest.mark.parametrize("token", STRANGE)
def test_a_non_ascii_delivery_token_is_403(api: TestClient, requester: DataCoopClient, token: str) -> None:
    r = api.get(f"/v1/deliveries/{token}", headers=_auth(requester))
    assert r.status_code == 403, r.text
    assert r.json()["error"]["field"] == "token"


@pytest.mark.parametrize("sig", STRANGE)
def test_a_non_ascii_compute_output_signature_is_403(
    api: TestClient, requester: DataCoopClient, sig: str
) -> None:
    query = {"buyer": requester.account.address, "expires": 4_000_000_000, "sig": sig}  # type: ignore[union-attr]
    r = api.get("/v1/compute/outputs/1/result.csv", params=query, headers=_auth(requester))
    assert r.status_code == 403, r.text
    assert r.json()["error"]["field"] == "sig"
