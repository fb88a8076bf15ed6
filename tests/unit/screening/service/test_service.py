"""Pre-screening as a service: the queue, leases, one final result per submission, reasons shown."""

from __future__ import annotations

import struct
from typing import Any, ClassVar

import pytest
from sqlalchemy import func, select
from tests.conftest import ManualClock

from datacoop.app import Node
from datacoop.client import DataCoopClient
from datacoop.db.models import ItemFeatures, Prescreen, StageResultRow
from datacoop.errors import InvalidInput
from datacoop.screening.base import ItemContext, StageResult, TaskView, Verdict
from datacoop.screening.stages.duplicates import DuplicateStage
from datacoop.screening.stages.size import SizeStage
from datacoop.tasks.rules import Modality
from datacoop.tasks.schemas import TaskPublic


def _count(node: Node, model: Any, submission_id: int) -> int:
    with node.db.transaction() as s:
        return int(
            s.scalar(select(func.count()).select_from(model).where(model.submission_id == submission_id)) or 0
        )


def _submit(client: DataCoopClient, task_id: int, data: bytes) -> int:
    return client.submit(task_id, client.upload(data).cid, "KE").id


def test_a_submission_is_queued_and_screened_once(
    node: Node, contributor: DataCoopClient, task: TaskPublic
) -> None:
    # Prepare
    sid = _submit(contributor, task.id, b"a photo")
    # Execute
    assert node.screening.work_once("w1")
    assert not node.screening.work_once("w1")  # queue empty
    node.screening.process(sid, "w2")  # processing again changes nothing
    # Assert
    sub = contributor.get_submission(sid)
    assert sub.state == "in_review"
    assert [h.to_state for h in sub.history] == ["received", "screening", "in_review"]
    assert sub.details["prescreen"]["outcome"] == "in_review"
    assert _count(node, Prescreen, sid) == 1


def test_exact_duplicate_is_rejected_with_a_reason(
    node: Node, contributor: DataCoopClient, requester: DataCoopClient, task: TaskPublic
) -> None:
    first = _submit(contributor, task.id, b"the same bytes")
    second = requester.submit(task.id, requester.upload(b"the same bytes").cid, "KE").id
    while node.screening.work_once("w"):
        pass
    assert contributor.get_submission(first).state == "in_review"
    rejected = requester.get_submission(second)
    assert rejected.state == "rejected"
    assert rejected.history[-1].reason == f"this exact file was already submitted (submission {first})"
    stages = rejected.details["prescreen"]["stages"]
    assert [(st["stage"], st["verdict"]) for st in stages] == [("size", "pass"), ("duplicates", "fail")]


def test_a_lease_that_runs_out_is_taken_over_and_only_one_result_stands(
    node: Node, contributor: DataCoopClient, task: TaskPublic, clock: ManualClock
) -> None:
    # Prepare: worker A claims and "dies" before finishing
    sid = _submit(contributor, task.id, b"photo of a duct")
    assert node.screening.claim("A") == sid
    assert node.screening.claim("B") is None  # leased
    # Execute
    clock.advance(minutes=6)
    assert node.screening.claim("B") == sid
    assert node.screening.process(sid, "B") == "in_review"
    late = node.screening.process(sid, "A")  # A comes back to life
    # Assert
    assert late is None
    assert _count(node, Prescreen, sid) == 1
    assert node.screening.pending() == 0


class _Exploding:
    name: ClassVar[str] = "exploding"
    modalities: ClassVar[frozenset[Modality]] = frozenset(Modality)
    cost: ClassVar[int] = 5

    def run(self, item: ItemContext, task: TaskView) -> StageResult:
        raise MemoryError("a stage that breaks")


def test_a_broken_stage_sends_the_item_to_review(
    node: Node, contributor: DataCoopClient, task: TaskPublic
) -> None:
    node.screening._stage_classes = lambda _m: [SizeStage, _Exploding, DuplicateStage]  # type: ignore[list-item]
    sid = _submit(contributor, task.id, b"anything")
    assert node.screening.work_once("w")
    sub = contributor.get_submission(sid)
    assert sub.state == "in_review"
    assert "the exploding check could not run (MemoryError); a validator will look" in sub.history[-1].reason


def test_an_empty_file_is_refused_at_upload_and_never_queued(
    node: Node, contributor: DataCoopClient, task: TaskPublic
) -> None:
    with pytest.raises(InvalidInput) as refused:
        _submit(contributor, task.id, b"")
    assert refused.value.field == "body"
    assert node.screening.work_once("w") is False  # nothing was queued


def test_a_job_that_keeps_killing_workers_goes_to_a_person(
    node: Node, contributor: DataCoopClient, task: TaskPublic, clock: ManualClock
) -> None:
    sid = _submit(contributor, task.id, b"poison")
    for _ in range(4):  # three workers died on it; the fourth claim sees attempts > MAX_ATTEMPTS
        assert node.screening.claim("w") == sid
        clock.advance(minutes=6)
    assert node.screening.process(sid, "w") == "in_review"
    assert _count(node, StageResultRow, sid) == 1
    assert contributor.get_submission(sid).history[-1].reason == "the automatic checks could not complete"


def test_scrubbed_copies_map_each_scrubbed_cid_to_its_submission(
    node: Node, contributor: DataCoopClient, task: TaskPublic
) -> None:
    # Prepare: two screened submissions, one of which kept a scrubbed copy
    scrubbed, plain = _submit(contributor, task.id, b"first"), _submit(contributor, task.id, b"second")
    while node.screening.work_once("w"):
        pass
    with node.db.transaction() as s:
        row = s.get(Prescreen, scrubbed)
        assert row is not None
        row.scrubbed_cid = "bafy-scrubbed"
    # Execute
    found = node.screening.scrubbed_copies([scrubbed, plain, 999])
    # Assert: only the asked-for submissions, only those with a copy
    assert found == {"bafy-scrubbed": scrubbed}
    assert node.screening.scrubbed_copies([plain]) == {}


class _Embedding:
    name: ClassVar[str] = "embedding"
    modalities: ClassVar[frozenset[Modality]] = frozenset(Modality)
    cost: ClassVar[int] = 70

    def run(self, item: ItemContext, task: TaskView) -> StageResult:
        import numpy as np

        item.scratch["features"] = ("fixed", np.array([0.6, 0.8], dtype=np.float64))
        return StageResult(self.name, Verdict.PASS)


def test_the_features_a_stage_leaves_are_stored_once_as_float32(
    node: Node, contributor: DataCoopClient, task: TaskPublic
) -> None:
    # Prepare: a stage that leaves a vector, as relevance does
    node.screening._stage_classes = lambda _m: [SizeStage, _Embedding]  # type: ignore[list-item]
    sid = _submit(contributor, task.id, b"anything with a vector")

    # Execute
    assert node.screening.work_once("w")

    # Assert
    with node.db.transaction() as s:
        row = s.get(ItemFeatures, sid)
        assert row is not None and (row.model, row.dims, row.p_accept) == ("fixed", 2, None)
        assert row.vector == struct.pack("<2f", 0.6, 0.8)
