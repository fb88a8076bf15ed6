"""The review endpoints over HTTP: status codes, error bodies, the item's bytes, the signed types."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from tests.conftest import make_account
from tests.data.make_corpus import gps_jpeg
from tests.unit.api.conftest import task_body
from tests.unit.review.review_world import GOLD, STAKE, World

from datacoop.app import Node
from datacoop.client import DataCoopClient
from datacoop.review.stakes import InMemoryStakes


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


def test_an_unbonded_validator_loses_the_content_and_the_vote_of_an_old_assignment(
    api: TestClient, world: World
) -> None:
    # Prepare: an assignment handed out while staked
    task = world.task(k=1)
    v = world.validator(0x2006)
    world.qualify(v)
    world.in_review(task, b"an item assigned before the unbonding")
    item = world.next_real(v)
    assert item is not None
    # Execute: the stake is withdrawn; the old assignment is used
    world.stakes.set(v.account.address, 0)  # type: ignore[union-attr]
    content = api.get(item.download, headers=_auth(v))
    body = {"decision": "accept", "labels": [], "nonce": 1, "signature": "0x" + "00" * 65}
    voted = api.post(f"/v1/reviews/{item.assignment_id}/vote", json=body, headers=_auth(v))
    # Assert: the stake is read at request time, not when the item was handed out
    for r in (content, voted):
        assert r.status_code == 403 and r.json()["error"]["field"] == "stake"
    assert b"assigned before" not in content.content


def test_a_requester_is_never_drawn_to_review_their_own_task(api: TestClient, world: World, sdk: Any) -> None:
    # Prepare: the requester stakes and qualifies on another requester's gold; their own task has an item
    other = sdk(make_account(0x2007))
    elsewhere = other.create_task(task_body(rules={"review": {"gold_rate": 0.0}}))
    for data, answer in GOLD.items():
        cid = other.upload(data + b" elsewhere").cid
        other.add_gold(elsewhere.id, cid, answer)
        world.gold_answers[cid] = answer
    world.stakes.set(world.requester.account.address, STAKE)  # type: ignore[union-attr]
    world.qualify(world.requester)
    task = world.task(k=1)
    world.in_review(task, b"an item of the requester's own task")
    # Execute: the requester is the only validator there is
    item = world.next_real(world.requester)
    # Assert
    assert item is None


def test_review_content_is_the_shared_copy_served_as_a_download(
    api: TestClient, world: World, node: Node
) -> None:
    # Prepare: a photo with GPS, camera and time, pre-screened into review
    task = world.task(k=1)
    v = world.validator(0x2008)
    world.qualify(v)
    raw = world.contributor.upload(gps_jpeg()).cid
    world.contributor.submit(task.id, raw, "KE")
    while node.screening.work_once("w"):
        pass
    # Execute
    item = world.next_real(v)
    assert item is not None
    r = api.get(item.download, headers=_auth(v))
    # Assert: the scrubbed bytes, never sniffed or shown inline; a report without what the scrub found
    assert r.status_code == 200 and item.cid != raw
    assert not Image.open(io.BytesIO(r.content)).getexif().get_ifd(0x8825)  # no GPS
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-disposition"].startswith("attachment;")
    scrub = next(st for st in item.prescreen.stages if st["stage"] == "scrub")
    assert scrub["details"] == {"method": "strip"} and "Canon" not in json.dumps(item.prescreen.stages)
