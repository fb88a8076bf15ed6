"""Submissions a page at a time (keyset cursors), and a task's whole list streamed to its requester."""

from __future__ import annotations

import json

import pytest
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient

from datacoop.app import Node
from datacoop.client import DataCoopClient
from datacoop.tasks.schemas import TaskPublic


def _auth(client: DataCoopClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {client._token}"}


@pytest.fixture
def seven(contributor: DataCoopClient, task: TaskPublic) -> list[int]:
    return [
        contributor.submit(task.id, contributor.upload(f"item {i}".encode()).cid, "ke").id for i in range(7)
    ]


def test_a_contributors_list_comes_in_pages_that_chain_by_cursor(
    api: TestClient, contributor: DataCoopClient, seven: list[int]
) -> None:
    # Execute: follow the cursor three pages deep
    pages, after = [], None
    for _ in range(4):
        r = api.get(
            "/v1/submissions",
            params={"limit": 3, **({"after": after} if after else {})},
            headers=_auth(contributor),
        )
        assert r.status_code == 200
        pages.append([s["id"] for s in r.json()])
        after = r.headers.get("x-next-cursor")
        if after is None:
            break
    # Assert
    assert pages == [seven[:3], seven[3:6], seven[6:]]
    assert [s.id for s in contributor.my_submissions()] == seven  # the SDK follows every page


def test_a_requester_lists_and_streams_a_tasks_submissions(
    api: TestClient, node: Node, requester: DataCoopClient, bob: LocalAccount, seven: list[int],
    task: TaskPublic,
) -> None:  # fmt: skip
    # Prepare: pre-screening decides each item
    while node.screening.work_once("test"):
        pass
    # Execute
    first = api.get(f"/v1/tasks/{task.id}/submissions", params={"limit": 5}, headers=_auth(requester))
    rest = api.get(
        f"/v1/tasks/{task.id}/submissions",
        params={"after": first.headers["x-next-cursor"]},
        headers=_auth(requester),
    )
    export = api.get(f"/v1/tasks/{task.id}/submissions/export", headers=_auth(requester))
    # Assert
    assert [r["id"] for r in first.json() + rest.json()] == seven and "x-next-cursor" not in rest.headers
    row = first.json()[0]
    assert row["contributor"] == bob.address and "signature" not in row and "history" not in row
    assert row["state"] != "received"  # read after pre-screening moved it
    assert export.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in export.text.splitlines()]
    assert [line["id"] for line in lines] == seven and lines[0] == row
    assert [r.id for r in requester.task_submissions(task.id)] == seven
    only = requester.task_submissions(task.id, state=row["state"])
    assert only and all(r.state == row["state"] for r in only)


def test_no_one_else_lists_a_tasks_submissions(
    api: TestClient, contributor: DataCoopClient, seven: list[int], task: TaskPublic
) -> None:
    for path in (f"/v1/tasks/{task.id}/submissions", f"/v1/tasks/{task.id}/submissions/export"):
        r = api.get(path, headers=_auth(contributor))
        assert r.status_code == 403 and r.json()["error"]["field"] == "task_id"


@pytest.mark.parametrize(("param", "value"), [("limit", 0), ("limit", 501), ("after", -1), ("after", 2**31)])
def test_a_page_outside_its_limits_is_refused_naming_the_parameter(
    api: TestClient, contributor: DataCoopClient, param: str, value: int
) -> None:
    r = api.get("/v1/submissions", params={param: value}, headers=_auth(contributor))
    assert r.status_code == 422 and r.json()["error"]["field"] == param
