"""Tasks over the API: creation, validation errors that name the field, reading."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from tests.unit.api.conftest import CONSENT, task_body

from datacoop.client import DataCoopClient
from datacoop.identity.addresses import consent_hash
from datacoop.tasks.schemas import TaskPublic


def _auth(client: DataCoopClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {client._token}"}


def test_create_and_read_a_task(requester: DataCoopClient, task: TaskPublic) -> None:
    assert task.requester == requester.account.address  # type: ignore[union-attr]
    assert task.consent_hash == consent_hash(CONSENT)
    assert task.status == "open"
    assert requester.get_task(task.id) == task
    assert [t.id for t in requester.list_tasks()] == [task.id]


def test_creating_a_task_needs_a_session(api: TestClient) -> None:
    r = api.post("/v1/tasks", json=task_body().model_dump(mode="json"))
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "not_authenticated"


def test_bad_fields_are_named(api: TestClient, requester: DataCoopClient) -> None:
    base = task_body().model_dump(mode="json")
    cases = {
        "title": {**base, "title": "x"},
        "target_count": {**base, "target_count": 0},
        "modality": {**base, "modality": "video"},
        "reward_per_item": {**base, "reward_per_item": 2**256},
        "deadline": {**base, "deadline": (datetime.now(UTC) - timedelta(days=1)).isoformat()},
        "allowed_jurisdictions.0": {**base, "allowed_jurisdictions": ["XX"]},
    }
    checked_by_the_service = {"deadline", "allowed_jurisdictions.0"}  # 400; the schema's rules are 422
    for field, body in cases.items():
        r = api.post("/v1/tasks", json=body, headers=_auth(requester))
        expected = (400, "invalid_input") if field in checked_by_the_service else (422, "unprocessable")
        error = r.json()["error"]
        assert (r.status_code, error["code"]) == expected, (field, r.text)
        assert error["field"] == field, error
        assert error["message"]


def test_unknown_task_is_404_json(api: TestClient) -> None:
    r = api.get("/v1/tasks/999")
    assert r.status_code == 404
    assert r.json() == {"error": {"code": "not_found", "message": "there is no task 999", "field": "task_id"}}


def test_unknown_route_and_malformed_json_keep_the_error_shape(
    api: TestClient, requester: DataCoopClient
) -> None:
    assert api.get("/v1/nope").json()["error"]["code"] == "not_found"
    r = api.post(
        "/v1/tasks", content=b"{not json", headers={**_auth(requester), "Content-Type": "application/json"}
    )
    assert r.status_code == 400
    assert set(r.json()["error"]) >= {"code", "message", "field"}


def test_only_the_requester_closes_a_task(
    requester: DataCoopClient, contributor: DataCoopClient, api: TestClient, task: TaskPublic
) -> None:
    r = api.post(f"/v1/tasks/{task.id}/close", headers=_auth(contributor))
    assert r.status_code == 403
    r = api.post(f"/v1/tasks/{task.id}/close", headers=_auth(requester))
    assert r.json()["status"] == "closed"


def test_per_stage_settings_round_trip(requester: DataCoopClient) -> None:
    from datacoop.tasks.schemas import AcceptanceRules

    rules = AcceptanceRules(
        min_width=1024, stages={"pii": {"faces": "blur"}, "duplicates": {"reject_within": 2}}
    )
    task = requester.create_task(task_body(rules=rules))
    assert requester.get_task(task.id).rules.stages == {
        "pii": {"faces": "blur"},
        "duplicates": {"reject_within": 2},
    }
