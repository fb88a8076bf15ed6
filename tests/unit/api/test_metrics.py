"""GET /metrics: Prometheus' text format, request latency by route template, queues read at scrape time."""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from datacoop.app import Node
from datacoop.client import DataCoopClient
from datacoop.tasks.schemas import TaskPublic


def _scrape(api: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = api.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(r.text)
        for sample in family.samples
    }


def _queued(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], status: str) -> float:
    return samples.get(("datacoop_screening_jobs", (("status", status),)), 0.0)


def test_queue_depth_rises_through_a_burst_and_falls_as_workers_drain_it(
    api: TestClient, node: Node, contributor: DataCoopClient, task: TaskPublic
) -> None:
    # Prepare
    before = _scrape(api)
    # Execute: a burst of five submissions, then the pre-screening worker drains the queue
    for i in range(5):
        contributor.submit(task.id, contributor.upload(f"photo {i}".encode()).cid, "ke")
    during = _scrape(api)
    while node.screening.work_once("test"):
        pass
    after = _scrape(api)
    # Assert
    assert _queued(before, "queued") == 0
    assert _queued(during, "queued") == 5
    assert during[("datacoop_screening_oldest_queued_age_seconds", ())] >= 0
    assert _queued(after, "queued") == 0 and _queued(after, "done") == 5
    assert after[("datacoop_screening_oldest_queued_age_seconds", ())] == 0
    assert sum(v for (name, _), v in after.items() if name == "datacoop_submissions") == 5


def test_requests_are_timed_by_route_template_never_by_raw_path(
    api: TestClient, contributor: DataCoopClient, task: TaskPublic
) -> None:
    # Execute
    for _ in range(3):
        api.get(f"/v1/tasks/{task.id}")
    api.get("/v1/no/such/route/12345")
    samples = _scrape(api)
    # Assert
    route = (("method", "GET"), ("route", "/v1/tasks/{task_id}"), ("status", "2xx"))
    assert samples[("datacoop_http_request_duration_seconds_count", route)] == 3
    labels = [
        dict(labels) for (name, labels), _ in samples.items() if name.startswith("datacoop_http_request")
    ]
    assert all(f"/{task.id}" not in d.get("route", "") for d in labels)
    assert not any("12345" in d.get("route", "") for d in labels)
    assert any(d.get("status") == "4xx" for d in labels)  # the unknown path counted, under a bounded label


def test_the_metrics_page_is_not_part_of_the_api_document(api: TestClient) -> None:
    assert "/metrics" not in api.get("/openapi.json").json()["paths"]
