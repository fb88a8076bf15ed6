"""No JSON route reads an unbounded body; hostile JSON is a 4xx, never a 500; uploads still stream."""

from __future__ import annotations

import sys

import pytest
from fastapi.testclient import TestClient
from tests.unit.api.wire import post_until_answered, serve

from datacoop.api.app import create_app
from datacoop.app import Node
from datacoop.client import DataCoopClient

LIMIT = 4 * 1024**2  # max_request_body_bytes' default


def _auth(client: DataCoopClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {client._token}", "Content-Type": "application/json"}


def _too_large(response: object) -> None:
    r = response
    assert r.status_code == 413, r.text  # type: ignore[attr-defined]
    assert r.json()["error"] == {  # type: ignore[attr-defined]
        "code": "too_large",
        "message": f"body is larger than the limit of {LIMIT:,} bytes",
        "field": "body",
        "limit": LIMIT,
    }


def test_a_declared_body_over_the_cap_is_refused_in_the_error_shape(
    api: TestClient, requester: DataCoopClient
) -> None:
    _too_large(api.post("/v1/tasks", content=b" " * (LIMIT + 1), headers=_auth(requester)))
    _too_large(
        api.post("/v1/auth/siwe", content=b" " * (LIMIT + 1), headers={"Content-Type": "application/json"})
    )


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_a_body_over_the_cap_is_refused_without_reading_on(
    node: Node, requester: DataCoopClient, declared: bool
) -> None:
    # Execute: 200 MiB offered to a JSON route over a real socket
    with serve(create_app(node)) as port:
        answer = post_until_answered(
            port, "/v1/tasks", total=200 * 1024**2, declared=declared, headers=_auth(requester)
        )
    # Assert: refused at the cap, long before the client got the rest out
    assert answer.status == 413 and answer.body["error"]["limit"] == LIMIT
    assert answer.sent < 5 * LIMIT


def test_blob_uploads_are_not_held_to_the_json_cap(contributor: DataCoopClient) -> None:
    blob = contributor.upload(b"x" * (LIMIT + 1))
    assert blob.size == LIMIT + 1


def test_deeply_nested_or_non_finite_json_is_a_4xx(api: TestClient, requester: DataCoopClient) -> None:
    # Prepare: the interpreter's own recursion limit, as under `datacoop up` (py_ecc, which the test
    # plugins import, raises it to 100,000, deep enough for the C JSON parser to overflow the stack)
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    try:
        nested = api.post("/v1/tasks", content=b"[" * 100_000, headers=_auth(requester))
    finally:
        sys.setrecursionlimit(previous)
    nan = api.post(
        "/v1/datasets",
        content=b'{"name": "x", "query": {"task_ids": [1], "labels": {"a": NaN}}}',
        headers=_auth(requester),
    )
    assert nested.status_code == 400 and nested.json()["error"]["field"] == "body"
    assert 400 <= nan.status_code < 500, nan.text
