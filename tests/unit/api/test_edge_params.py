"""Ids and paging parameters are checked at the edge: beyond 64 bits is a 422 naming the field, never a 500.

Every integer path and query parameter in ``/openapi.json`` is tried, so a route added later
without the shared types of ``datacoop.api.params`` fails here.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from datacoop.client import DataCoopClient
from datacoop.tasks.schemas import TaskPublic

HUGE = 2**64  # one past what SQLite's INTEGER and PostgreSQL's BIGINT hold


def _auth(client: DataCoopClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {client._token}"}


def _int_params(api: TestClient) -> list[tuple[str, str, str, str]]:
    """(method, path template, parameter name, 'path' or 'query') for every integer parameter."""
    found = []
    for path, item in api.get("/openapi.json").json()["paths"].items():
        for method, op in item.items():
            for param in op.get("parameters", []):
                schemas = [param["schema"], *param["schema"].get("anyOf", [])]
                if any(s.get("type") == "integer" for s in schemas):
                    found.append((method, path, param["name"], param["in"]))
    return found


def _request(api: TestClient, method: str, path: str, name: str, where: str, value: object) -> Any:
    url = re.sub(r"\{(\w+)(?::path)?\}", lambda m: str(value) if m.group(1) == name else "1", path)
    params: dict[str, object] = {"buyer": "0x" + "11" * 20, "expires": 1, "sig": "00"}
    if where == "query":
        params[name] = value
    return method, url, params


def test_every_integer_parameter_is_declared(api: TestClient) -> None:
    names = {(path, name) for _, path, name, _ in _int_params(api)}
    for expected in [
        ("/v1/datasets/{dataset_id}", "dataset_id"),
        ("/v1/datasets/{dataset_id}/versions/{number}", "number"),
        ("/v1/datasets/{dataset_id}/versions/{number}/manifest", "number"),
        ("/v1/submissions/{submission_id}", "submission_id"),
        ("/v1/submissions/{submission_id}/appeal", "submission_id"),
        ("/v1/submissions/{submission_id}/review", "submission_id"),
        ("/v1/tasks", "offset"),
        ("/v1/listings", "min_items"),
    ]:
        assert expected in names


@pytest.mark.parametrize("value", [HUGE, -1])
def test_out_of_range_ids_and_offsets_are_422_naming_the_field(
    api: TestClient, requester: DataCoopClient, task: TaskPublic, value: int
) -> None:
    # Prepare
    params = _int_params(api)
    assert len(params) > 30
    failures = []
    for method, path, name, where in params:
        tried = 2**256 if name == "max_price" and value == HUGE else value  # a price is a uint256
        verb, url, query = _request(api, method, path, name, where, tried)
        # Execute
        r = api.request(verb.upper(), url, params=query, headers=_auth(requester))
        # Assert: an operator-only route may refuse the caller first; nothing reaches the database
        if r.status_code == 403 and r.json()["error"]["field"] == "authorization":
            continue
        body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
        error = body.get("error", {}) if isinstance(body, dict) else {}
        if r.status_code != 422 or error.get("field") != name or error.get("code") != "unprocessable":
            failures.append((verb, url, r.status_code, r.text[:200]))
    assert failures == []


def test_offset_beyond_64_bits_names_the_limit(api: TestClient) -> None:
    r = api.get("/v1/tasks", params={"offset": HUGE})
    assert r.status_code == 422
    assert r.json()["error"] == {
        "code": "unprocessable",
        "message": "offset: Input should be less than or equal to 9223372036854775807",
        "field": "offset",
        "limit": 2**63 - 1,
    }
    assert api.get("/v1/tasks", params={"limit": 501}).json()["error"]["limit"] == 500
    assert api.get("/v1/tasks", params={"offset": 2**63 - 1}).status_code == 200


def test_integer_body_fields_that_reach_the_database_are_bounded(
    api: TestClient, requester: DataCoopClient, task: TaskPublic
) -> None:
    # Prepare
    cases = [
        ("/v1/orders", {"listing_id": HUGE, "tx_hash": "0x" + "ab" * 32, "jurisdiction": "DE"}, "listing_id"),
        ("/v1/listings", {"version_id": HUGE, "price": "1", "licence": "CC-BY-4.0", "duration_s": 60},
         "version_id"),
        (f"/v1/tasks/{task.id}/escrow", {"escrow_task_id": 2**256}, "escrow_task_id"),
    ]  # fmt: skip
    for url, body, field in cases:
        # Execute
        r = api.post(url, json=body, headers=_auth(requester))
        # Assert
        assert (r.status_code, r.json()["error"]["field"]) == (422, field), r.text
    query = api.post(
        "/v1/datasets", json={"name": "x", "query": {"task_ids": [HUGE]}}, headers=_auth(requester)
    )
    assert query.status_code in (400, 422) and query.json()["error"]["field"].startswith("query.task_ids")


def test_ids_stop_where_postgresql_keys_do_and_the_largest_is_never_a_500(
    api: TestClient, requester: DataCoopClient, task: TaskPublic
) -> None:
    # Prepare: keys are PostgreSQL INTEGER (signed 32-bit) columns; 2**31 failed inside PostgreSQL (500)
    from datacoop.schemas import MAX_ID

    ids = [p for p in _int_params(api) if p[2].endswith("_id") or p[2] in ("number", "index", "task_id")]
    assert MAX_ID == 2**31 - 1 and len(ids) > 25
    answers = []
    for method, path, name, where in ids:
        for value in (MAX_ID, MAX_ID + 1):
            verb, url, query = _request(api, method, path, name, where, value)
            # Execute
            r = api.request(verb.upper(), url, params=query, headers=_auth(requester))
            answers.append((verb, url, value, r.status_code, r.text[:120]))
    # Assert: the largest id is an ordinary miss or refusal; one past it is a 422 (or refused before)
    assert [a for a in answers if a[3] >= 500 and a[3] != 503] == []  # 503: this node has no chain
    assert [a for a in answers if a[2] == MAX_ID + 1 and a[3] not in (403, 422)] == []


def test_times_in_a_body_are_iso_text_never_numbers(
    api: TestClient, requester: DataCoopClient, task: TaskPublic
) -> None:
    # Prepare: pydantic reads a number as unix seconds, though the schema says ISO 8601 text
    from tests.unit.api.conftest import task_body

    as_number = task_body().model_dump(mode="json") | {"deadline": 4_102_444_800}
    query = {"task_ids": [task.id], "created_from": 0}
    # Execute
    made = api.post("/v1/tasks", json=as_number, headers=_auth(requester))
    dataset = api.post("/v1/datasets", json={"name": "x", "query": query}, headers=_auth(requester))
    # Assert
    assert (made.status_code, made.json()["error"]["field"]) == (422, "deadline")
    assert (dataset.status_code, dataset.json()["error"]["field"]) == (422, "query.created_from")
