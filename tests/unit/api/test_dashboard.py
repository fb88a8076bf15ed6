"""A requester's dashboard and samples, one-file dataset downloads, the chain relay without a chain."""

from __future__ import annotations

import io
import random

from fastapi.testclient import TestClient
from PIL import Image, ImageEnhance
from tests.unit.api.conftest import task_body

from datacoop.app import Node
from datacoop.client import DataCoopClient
from datacoop.demo.images import Kind, generate


def _auth(client: DataCoopClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {client._token}"}


def _screen_all(node: Node) -> None:
    while node.screening.work_once("test"):
        pass


def test_dashboard_counts_causes_and_samples(
    api: TestClient, node: Node, requester: DataCoopClient, contributor: DataCoopClient
) -> None:
    # Prepare: a task that accepts what passes the checks; two distinct photos, a near copy of the
    # first, and a cut-short file
    task = requester.create_task(task_body(rules={"auto_accept": True}))
    rng = random.Random(11)
    photos = [s.data for s in generate([Kind.GOOD, Kind.GOOD], rng)]
    brighter = io.BytesIO()
    ImageEnhance.Brightness(Image.open(io.BytesIO(photos[0]))).enhance(1.05).save(
        brighter, "JPEG", quality=75
    )
    for data in (photos[0], photos[1], brighter.getvalue(), photos[1][: len(photos[1]) // 2]):
        contributor.submit(task.id, contributor.upload(data).cid, "KE")
    _screen_all(node)
    # Execute
    dash = api.get(f"/v1/tasks/{task.id}/dashboard", headers=_auth(requester))
    other = api.get(f"/v1/tasks/{task.id}/dashboard", headers=_auth(contributor))
    mine = contributor.my_submissions(task.id)
    accepted = [s.id for s in mine if s.state == "accepted"]
    not_accepted = next(s.id for s in mine if s.state != "accepted")
    sample = api.get(f"/v1/tasks/{task.id}/samples/{accepted[0]}", headers=_auth(requester))
    refused = api.get(f"/v1/tasks/{task.id}/samples/{not_accepted}", headers=_auth(requester))
    # Assert
    assert dash.status_code == 200, dash.text
    body = dash.json()
    assert body["submissions"] == 4 and body["target"] == task.target_count
    assert body["accepted"] == 2 and body["rejected"] == 2 and body["by_state"]["in_review"] == 0
    assert body["acceptance_rate"] == 0.5 and body["progress"] == round(2 / task.target_count, 4)
    assert body["rejections_by_cause"] == {"decode": 1, "duplicates": 1}
    assert body["funded"] is False
    assert sorted(s["submission_id"] for s in body["samples"]) == sorted(accepted)
    assert other.status_code == 403 and other.json()["error"]["field"] == "task_id"
    assert sample.status_code == 200 and Image.open(io.BytesIO(sample.content)).size == (640, 480)
    assert refused.status_code == 404 and refused.json()["error"]["field"] == "submission_id"


def test_dataset_download_refuses_an_unknown_format(api: TestClient) -> None:
    response = api.get("/v1/dataset-versions/1/export/webdataset")
    assert response.status_code == 422  # the path's pattern names the formats, in /openapi.json too
    error = response.json()["error"]
    assert error["field"] == "format_name" and "datasheet|croissant|parquet" in error["message"]


def test_chain_relay_needs_a_chain(api: TestClient) -> None:
    response = api.post("/v1/chain/rpc", json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"})
    assert response.status_code == 503 and response.json()["error"]["field"] == "chain"
