"""GET /v1/health: anyone learns whether each part is up; how the node is built is the operator's."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from datacoop.app import Node
from datacoop.client import DataCoopClient


def test_health_without_the_operators_session_names_no_path_or_url(
    api: TestClient, node: Node, requester: DataCoopClient
) -> None:
    # Prepare: what the node's own report holds
    full = node.health.check()
    secrets = [full["database"]["url"], full["store"]["root"], str(node.settings.data_dir)]
    # Execute
    anonymous = api.get("/v1/health")
    signed_in = requester.health()  # a signed-in participant who is not the operator
    # Assert: every part's status, nothing that says where or how it runs
    assert anonymous.status_code == 200
    for shown in (anonymous.json(), signed_in):
        assert shown["status"] == "ok"
        assert {name: part["status"] for name, part in shown.items() if isinstance(part, dict)} == {
            "database": "ok", "store": "ok", "chain": "not_configured",
        }  # fmt: skip
        text = json.dumps(shown)
        assert not [s for s in secrets if s in text] and "url" not in text and "root" not in text


def test_liveness_answers_without_touching_any_part(api: TestClient, node: Node) -> None:
    # Prepare: the blob store is gone (its temp directory moved away)
    tmp = node.store.tmp  # type: ignore[attr-defined]
    tmp.rename(tmp.with_name("moved-away"))
    try:
        # Execute
        live = api.get("/v1/health/live")
        ready = api.get("/v1/health/ready")
    finally:
        tmp.with_name("moved-away").rename(tmp)
    # Assert: the process is alive, but not ready to take requests, and says which part is down
    assert (live.status_code, live.json()) == (200, {"status": "ok"})
    assert ready.status_code == 503
    assert ready.json()["error"]["code"] == "unavailable" and ready.json()["error"]["field"] == "store"


def test_readiness_probes_only_what_requests_need(api: TestClient) -> None:
    ready = api.get("/v1/health/ready")
    assert (ready.status_code, ready.json()) == (
        200,
        {"status": "ok", "parts": {"database": "ok", "store": "ok"}},
    )
