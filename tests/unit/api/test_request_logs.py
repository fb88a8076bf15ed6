"""Request ids and JSON log lines: a user's report can be matched to the node's lines."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from datacoop.logs import JsonFormatter, new_request_id
from datacoop.tasks.schemas import TaskPublic


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """What DataCoop's loggers write, as JSON lines, while the test runs."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    logger, access = logging.getLogger("datacoop"), logging.getLogger("datacoop.access")
    levels = (logger.level, access.level)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    access.setLevel(logging.INFO)
    try:
        yield out
    finally:
        logger.removeHandler(handler)
        logger.setLevel(levels[0])
        access.setLevel(levels[1])


def _lines(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_each_answer_carries_an_id_and_its_access_line_the_same(
    api: TestClient, task: TaskPublic, json_lines: io.StringIO
) -> None:
    # Execute
    first = api.get(f"/v1/tasks/{task.id}")
    second = api.get(f"/v1/tasks/{task.id}", headers={"X-Request-Id": "support-ticket-42"})
    hostile = api.get("/v1/tasks/999999", headers={"X-Request-Id": "x" * 65})
    # Assert: a fresh id, the caller's own where it is a short token, never a hostile one echoed
    assert len(first.headers["x-request-id"]) == 32
    assert second.headers["x-request-id"] == "support-ticket-42"
    assert hostile.headers["x-request-id"] != "x" * 65 and hostile.status_code == 404
    access = [line for line in _lines(json_lines) if line["logger"] == "datacoop.access"]
    assert [(a["request_id"], a["route"], a["status"]) for a in access] == [
        (first.headers["x-request-id"], "/v1/tasks/{task_id}", 200),
        ("support-ticket-42", "/v1/tasks/{task_id}", 200),
        (hostile.headers["x-request-id"], "/v1/tasks/{task_id}", 404),
    ]
    assert all(a["level"] == "info" and isinstance(a["duration_ms"], float) for a in access)


def test_context_fields_become_keys_of_their_own(json_lines: io.StringIO) -> None:
    logging.getLogger("datacoop.screening").warning("stage failed", extra={"submission_id": 7, "task_id": 3})
    (line,) = _lines(json_lines)
    assert (line["message"], line["submission_id"], line["task_id"]) == ("stage failed", 7, 3)
    assert "request_id" not in line  # outside a request


@pytest.mark.parametrize("offered", [None, "", "a b", "é", "x" * 65, "../etc"])
def test_an_offered_id_that_is_not_a_short_token_is_replaced(offered: str | None) -> None:
    assert new_request_id(offered) != offered and len(new_request_id(offered)) == 32
