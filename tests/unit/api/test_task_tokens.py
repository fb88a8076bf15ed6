"""A task's token on a node without a chain: nothing to read it from, so nothing is pretended."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.unit.api.conftest import task_body

from datacoop.client import DataCoopClient
from datacoop.tasks.schemas import TaskPublic


def _post(api: TestClient, who: DataCoopClient, **override: object) -> tuple[int, dict[str, object]]:
    body = {**task_body().model_dump(mode="json"), **override}
    r = api.post("/v1/tasks", json=body, headers={"Authorization": f"Bearer {who._token}"})
    return r.status_code, r.json()


def test_a_chainless_task_records_no_token(requester: DataCoopClient, task: TaskPublic) -> None:
    assert task.token is None
    assert task.reward_per_item == str(5 * 10**18)
    assert requester.get_task(task.id).token is None


def test_naming_a_token_needs_a_chain(api: TestClient, requester: DataCoopClient) -> None:
    status, body = _post(api, requester, token="0x" + "12" * 20)
    assert status == 503
    assert body["error"]["field"] == "token"  # type: ignore[index]


def test_whole_tokens_need_the_tokens_decimals(api: TestClient, requester: DataCoopClient) -> None:
    status, body = _post(api, requester, reward_per_item=None, reward="12.5")
    assert (status, body["error"]["field"]) == (422, "reward")  # type: ignore[index]


def test_exactly_one_reward_is_given(api: TestClient, requester: DataCoopClient) -> None:
    for override in ({"reward": "1"}, {"reward_per_item": None}):
        status, body = _post(api, requester, **override)
        assert (status, body["error"]["field"]) == (400, "reward_per_item"), override  # type: ignore[index]
