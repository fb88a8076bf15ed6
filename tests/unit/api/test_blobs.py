"""Blob uploads over the API: CIDs, limits, and nothing recorded for a refused upload."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from fastapi.testclient import TestClient
from tests.conftest import ManualClock

from datacoop.app import Node
from datacoop.cid import cid_of_bytes
from datacoop.client import DataCoopClient
from datacoop.tasks.schemas import TaskPublic


def _auth(client: DataCoopClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {client._token}"}


def test_upload_answers_the_cid_of_the_bytes(contributor: DataCoopClient, node: Node) -> None:
    data = bytes(range(256)) * 5000  # 1.28 MB: several chunks, a dag-pb root
    blob = contributor.upload(data)
    assert blob.cid == cid_of_bytes(data)
    assert blob.size == len(data)
    assert node.store.verify(blob.cid)
    assert contributor.upload(data).cid == blob.cid  # idempotent


def test_an_empty_or_missing_body_is_refused_and_nothing_is_stored(
    api: TestClient, contributor: DataCoopClient, node: Node
) -> None:
    for answer in (
        api.post("/v1/blobs", headers=_auth(contributor)),  # no body at all
        api.post("/v1/blobs", content=iter([b""]), headers=_auth(contributor)),  # chunked, nothing sent
    ):
        assert answer.status_code == 400
        assert (answer.json()["error"]["field"], answer.json()["error"]["limit"]) == ("body", 1)
    assert list(node.store.list()) == []


def test_upload_needs_a_session(api: TestClient) -> None:
    assert api.post("/v1/blobs", content=b"x").status_code == 401


def test_declared_length_over_the_limit_is_413_before_reading(
    api: TestClient, contributor: DataCoopClient, node: Node
) -> None:
    node.blobs.max_bytes = 1000
    r = api.post("/v1/blobs", content=b"x" * 10, headers={**_auth(contributor), "Content-Length": "5000"})
    assert r.status_code in (400, 413)
    assert list(node.store.list()) == []


def test_chunked_body_over_the_limit_is_cut_off(
    api: TestClient, contributor: DataCoopClient, node: Node
) -> None:
    node.blobs.max_bytes = 100_000

    def body() -> Iterator[bytes]:  # no Content-Length: the server must count
        for _ in range(50):
            yield b"y" * 10_000

    r = api.post("/v1/blobs", content=body(), headers=_auth(contributor))
    assert r.status_code == 413
    assert r.json()["error"] == {
        "code": "too_large",
        "message": "body is larger than the limit of 100,000 bytes",
        "field": "body",
        "limit": 100_000,
    }
    assert list(node.store.list()) == []


def test_gc_removes_only_old_unreferenced_blobs(
    contributor: DataCoopClient, task: TaskPublic, node: Node, clock: ManualClock
) -> None:
    # Prepare
    kept = contributor.upload(b"submitted photo").cid
    contributor.submit(task.id, kept, "KE")
    orphan = contributor.upload(b"uploaded, never submitted").cid
    # Execute
    young = node.blobs.collect_garbage(timedelta(hours=1))
    clock.advance(hours=2)
    report = node.blobs.collect_garbage(timedelta(seconds=0))
    # Assert
    assert young.deleted == []
    assert report.deleted == [orphan]
    assert node.store.exists(kept) and not node.store.exists(orphan)
    assert report.kept_referenced == 1


def test_gc_keeps_the_copies_pre_screening_made(
    contributor: DataCoopClient, requester: DataCoopClient, node: Node, clock: ManualClock
) -> None:
    # Prepare: a photo with a face, under a task that blurs faces: a scrubbed and a blurred copy
    import io

    from PIL import Image
    from skimage import data as samples
    from sqlalchemy import select
    from tests.unit.api.conftest import task_body

    from datacoop.db.models import Prescreen, StageResultRow

    task = requester.create_task(task_body(rules={"stages": {"pii": {"faces": "blur"}}}))
    out = io.BytesIO()
    Image.fromarray(samples.astronaut()).save(out, "JPEG", quality=90)
    photo = contributor.upload(out.getvalue()).cid
    submission = contributor.submit(task.id, photo, "KE")
    assert node.screening.work_once("test")
    with node.db.transaction() as s:
        scrubbed = s.get(Prescreen, submission.id).scrubbed_cid  # type: ignore[union-attr]
        artifacts = s.scalars(
            select(StageResultRow.artifacts).where(StageResultRow.submission_id == submission.id)
        )
        copies = {scrubbed, *(cid for a in artifacts for cid in a.values())}
    # Execute
    clock.advance(hours=2)
    gc = node.blobs.collect_garbage(timedelta(seconds=0))
    # Assert
    assert gc.deleted == []
    assert len(copies) == 2 and None not in copies  # the scrubbed copy and the blurred one
    for cid in {photo, *copies}:
        assert node.store.exists(cid)
