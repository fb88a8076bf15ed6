"""No JSON route reads an unbounded body; hostile JSON is a 4xx, never a 500; uploads still stream."""

from __future__ import annotations

import itertools
import json
import sys

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from tests.unit.api.wire import post_until_answered, serve

from datacoop.api.app import create_app
from datacoop.api.body_limit import JsonDepth
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


def test_deeply_nested_json_is_a_400_whatever_the_recursion_limit(
    api: TestClient, requester: DataCoopClient
) -> None:
    # Prepare: the recursion limit py_ecc (imported by the test plugins) sets, deep enough for the C
    # JSON parser to overflow the stack on 100,000 nested arrays
    assert sys.getrecursionlimit() >= 100_000
    # Execute
    nested = api.post("/v1/tasks", content=b"[" * 100_000, headers=_auth(requester))
    chunked = api.post("/v1/tasks", content=iter([b"[" * 40, b"[" * 40]), headers=_auth(requester))
    # Assert
    for r in (nested, chunked):
        assert r.status_code == 400, r.text
        assert r.json()["error"] == {
            "code": "invalid_input",
            "message": "body: JSON arrays and objects nest deeper than 64 levels",
            "field": "body",
        }


def test_non_finite_numbers_in_a_free_form_field_are_a_4xx(
    api: TestClient, requester: DataCoopClient
) -> None:
    nan = api.post(
        "/v1/datasets",
        content=b'{"name": "x", "query": {"task_ids": [1], "labels": {"a": NaN}}}',
        headers=_auth(requester),
    )
    assert 400 <= nan.status_code < 500, nan.text


@given(
    value=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab\n', max_size=8),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(st.text(alphabet='[]"\\a', max_size=4), inner, max_size=3)
        ),
        max_leaves=30,
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=4),
)
def test_the_streaming_depth_count_agrees_with_the_parser(value: object, cuts: list[int]) -> None:
    text = json.dumps(value).encode()
    edges = sorted({min(c, len(text)) for c in cuts} | {0, len(text)})
    depth = JsonDepth(limit=1_000)
    for a, b in itertools.pairwise(edges):
        depth.feed(text[a:b])
    assert depth.deepest == _nesting(value) and depth.depth == 0


def _nesting(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((_nesting(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_nesting(v) for v in value.values()), default=0)
    return 0


def test_an_upload_full_of_brackets_is_not_taken_for_json(contributor: DataCoopClient) -> None:
    assert contributor.upload(b"[" * 100_000).size == 100_000
