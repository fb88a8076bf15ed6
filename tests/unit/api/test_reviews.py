"""The review endpoints over HTTP: status codes, error bodies, the item's bytes, the signed types."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.unit.services.review_world import STAKE, World

from datacoop.app import Node
from datacoop.client import DataCoopClient
from datacoop.services.stakes import InMemoryStakes


@pytest.fixture
def world(
    node: Node, sdk: Any, requester: DataCoopClient, contributor: DataCoopClient, stakes: InMemoryStakes
) -> World:
    return World(node, sdk, requester, contributor, stakes)


def _auth(client: DataCoopClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {client._token}"}


def test_the_queue_needs_a_session_and_answers_204_when_empty(api: TestClient, world: World) -> None:
    assert api.get("/v1/reviews/next").status_code == 401
    v = world.validator(0x2001)
    world.task()
    world.qualify(v)  # answers every gold item there is
    r = api.get("/v1/reviews/next", headers=_auth(v))
    assert r.status_code == 204 and r.content == b""


def test_below_the_stake_the_error_names_the_field_and_limit(api: TestClient, world: World) -> None:
    poor = world.validator(0x2002, stake=0)
    r = api.get("/v1/reviews/next", headers=_auth(poor))
    assert r.status_code == 403
    error = r.json()["error"]
    assert (error["code"], error["field"], error["limit"]) == ("forbidden", "stake", str(STAKE))


def test_an_assigned_validator_downloads_the_item(api: TestClient, world: World) -> None:
    task = world.task(k=1)
    v = world.validator(0x2003)
    world.qualify(v)
    world.in_review(task, b"the bytes under review")
    item = world.next_real(v)
    assert item is not None
    r = api.get(item.download, headers=_auth(v))
    assert r.status_code == 200 and r.content == b"the bytes under review"
    other = world.validator(0x2004)
    assert api.get(item.download, headers=_auth(other)).status_code == 404


def test_a_malformed_vote_names_the_field(api: TestClient, world: World) -> None:
    v = world.validator(0x2005)
    world.task()
    item = v.next_review()
    assert item is not None
    body = {"decision": "maybe", "labels": [], "nonce": 1, "signature": "0x00"}
    r = api.post(f"/v1/reviews/{item.assignment_id}/vote", json=body, headers=_auth(v))
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "decision"


def test_only_the_requester_adds_gold_and_only_uploaded_blobs(api: TestClient, world: World) -> None:
    task = world.task()
    cid = world.contributor.upload(b"not a requester's gold").cid
    r = api.post(
        f"/v1/tasks/{task.id}/gold", json={"cid": cid, "answer": "accept"}, headers=_auth(world.contributor)
    )
    assert r.status_code == 403
    missing = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"
    r = api.post(f"/v1/tasks/{task.id}/gold", json={"cid": missing, "answer": "accept"},
                 headers=_auth(world.requester))  # fmt: skip
    assert r.status_code == 404 and r.json()["error"]["field"] == "cid"
    listed = api.get(f"/v1/tasks/{task.id}/gold", headers=_auth(world.requester)).json()
    assert sorted(g["answer"] for g in listed) == ["accept", "reject"]
    assert world.requester.get_task(task.id).submission_count == 0  # gold items are never counted


def test_the_signed_types_include_vote_and_appeal(api: TestClient) -> None:
    body = api.get("/v1/eip712").json()
    assert {"Submission", "Vote", "Appeal"} <= set(body["primaryTypes"])
    assert [f["name"] for f in body["types"]["Vote"]] == [
        "validator", "taskId", "assignmentId", "decision", "labels", "nonce",
    ]  # fmt: skip


def test_slashing_is_for_the_operator_only(api: TestClient, world: World) -> None:
    r = api.get("/v1/reviews/slashing", headers=_auth(world.requester))
    assert r.status_code == 403 and r.json()["error"]["field"] == "authorization"
    r = api.post("/v1/reviews/slashing/1/execute", headers=_auth(world.requester))
    assert r.status_code == 403
