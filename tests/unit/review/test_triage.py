"""The task model in the review service (SQLite and PostgreSQL): it decides only once the requester's
precision is met on held-out decisions, records why, and orders a validator's items."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sqlalchemy import select
from tests.conftest import ManualClock
from tests.unit.review.review_world import World

from datacoop.app import Node
from datacoop.client import DataCoopClient
from datacoop.db.models import ItemFeatures, ReviewOutcome, Submission, SubmissionEvent
from datacoop.review import triage
from datacoop.review.outcomes import finalize
from datacoop.review.rules import ReviewAnswer
from datacoop.review.stakes import InMemoryStakes
from datacoop.review.triage import BY_MODEL
from datacoop.tasks.schemas import TaskPublic
from datacoop.tasks.states import SubmissionState


@pytest.fixture
def world(
    node: Node, sdk: Any, requester: DataCoopClient, contributor: DataCoopClient, stakes: InMemoryStakes
) -> World:
    return World(node, sdk, requester, contributor, stakes)


def _features(on_topic: bool, rng: np.random.Generator) -> bytes:
    """Stand-in embeddings: the first axis tells on-topic from off-topic, the rest is noise."""
    row = rng.normal(scale=0.3, size=8).astype("<f4")
    row[0] = (2.0 if on_topic else -2.0) + rng.normal(scale=0.3)
    return row.tobytes()


def _with_features(
    world: World, task: TaskPublic, on_topic: bool, rng: np.random.Generator, n: int, clock: ManualClock
) -> list[int]:
    ids = [world.in_review(task, f"item {on_topic} {rng.random()}".encode()) for _ in range(n)]
    now = clock()
    with world.node.db.transaction() as s:
        for sid in ids:
            s.add(ItemFeatures(submission_id=sid, model="minilm", dims=8, vector=_features(on_topic, rng),
                               p_accept=None, created_at=now))  # fmt: skip
    return ids


def _validators_decide(node: Node, ids: list[int], answer: ReviewAnswer, clock: ManualClock) -> None:
    """What consensus would record (the model learns final decisions, whoever made them)."""
    with node.db.transaction() as s:
        for sid in ids:
            clock.advance(seconds=1)
            sub = s.get(Submission, sid)
            assert sub is not None
            finalize(s, sub, answer, clock(), by="consensus", reason="community review: test")


def _state(node: Node, sid: int) -> tuple[str, str | None, str | None]:
    with node.db.transaction() as s:
        sub, outcome = s.get(Submission, sid), s.get(ReviewOutcome, sid)
        assert sub is not None
        reason = s.scalars(
            select(SubmissionEvent.reason)
            .where(SubmissionEvent.submission_id == sid)
            .order_by(SubmissionEvent.id.desc())
        ).first()
        return sub.state, outcome.decided_by if outcome else None, reason


def test_an_item_is_auto_decided_only_after_the_threshold_is_met_and_its_reason_is_recorded(
    world: World, clock: ManualClock
) -> None:
    # Prepare: a task that lets its model decide at 0.95 after 20 labels; a validator asks for work
    rng = np.random.default_rng(0)
    task = world.task(auto_decide_precision=0.95, auto_decide_min_labels=20)
    on, off = (
        _with_features(world, task, True, rng, 40, clock),
        _with_features(world, task, False, rng, 40, clock),
    )
    v = world.validator(0x901)
    _validators_decide(world.node, on[:5], ReviewAnswer.ACCEPT, clock)
    _validators_decide(world.node, off[:5], ReviewAnswer.REJECT, clock)
    (early,) = _with_features(world, task, False, rng, 1, clock)

    # Execute: too few decisions yet
    v.next_review()

    # Assert: nothing decided, but the items are scored
    assert _state(world.node, early)[0] == SubmissionState.IN_REVIEW.value
    with world.node.db.transaction() as s:
        assert s.get(ItemFeatures, early).p_accept is not None  # type: ignore[union-attr]

    # Execute: validators decide the rest, so the model's held-out record grows past the threshold
    _validators_decide(world.node, on[5:], ReviewAnswer.ACCEPT, clock)
    _validators_decide(world.node, off[5:], ReviewAnswer.REJECT, clock)
    (late,) = _with_features(world, task, True, rng, 1, clock)
    v.next_review()

    # Assert: both waiting items are decided by the model, with its reason, like any decision
    state, by, reason = _state(world.node, early)
    assert (state, by) == (SubmissionState.REJECTED.value, BY_MODEL)
    assert reason is not None and reason.startswith("auto-decided by the task model: p(off-topic) ")
    assert "held-out precision" in reason and "decisions" in reason
    assert _state(world.node, late)[:2] == (SubmissionState.ACCEPTED.value, BY_MODEL)
    status = world.contributor.review_status(early)
    assert status.decided_by == BY_MODEL and status.answer == "reject"

    # Execute: the contributor appeals the model's rejection, like any other
    world.contributor.appeal(early, "it is a recipe")
    v.next_review()

    # Assert: back in review, for a jury; the model does not decide it again
    assert _state(world.node, early)[0] == SubmissionState.IN_REVIEW.value


def test_a_requester_who_sets_no_precision_gets_no_auto_decisions(world: World, clock: ManualClock) -> None:
    # Prepare: the default rules (auto_decide_precision None), a model with plenty to learn from
    rng = np.random.default_rng(1)
    task = world.task(auto_decide_min_labels=20)
    on, off = (
        _with_features(world, task, True, rng, 40, clock),
        _with_features(world, task, False, rng, 40, clock),
    )
    _validators_decide(world.node, on, ReviewAnswer.ACCEPT, clock)
    _validators_decide(world.node, off, ReviewAnswer.REJECT, clock)
    (waiting,) = _with_features(world, task, False, rng, 1, clock)

    # Execute
    world.validator(0x902).next_review()

    # Assert: scored (it orders the queue), never decided
    assert _state(world.node, waiting)[0] == SubmissionState.IN_REVIEW.value
    with world.node.db.transaction() as s:
        p = s.get(ItemFeatures, waiting).p_accept  # type: ignore[union-attr]
    assert p is not None and p < 0.05


def test_a_rebuild_reads_only_the_recent_decisions_and_waits_for_enough_new_ones(
    world: World, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Prepare: 60 decided items; a rebuild may read 30 of them and comes after 50 % more decisions
    monkeypatch.setattr(triage, "MAX_LABELS", 30)
    monkeypatch.setattr(triage, "REBUILD_EVERY", 0.5)
    rng = np.random.default_rng(2)
    task = world.task(auto_decide_min_labels=20)
    on, off = (
        _with_features(world, task, True, rng, 30, clock),
        _with_features(world, task, False, rng, 30, clock),
    )
    for accepted, rejected in zip(on, off, strict=True):  # alternately: the newest 30 hold both answers
        _validators_decide(world.node, [accepted], ReviewAnswer.ACCEPT, clock)
        _validators_decide(world.node, [rejected], ReviewAnswer.REJECT, clock)
    models = triage.TaskModels()
    # Execute
    with world.node.db.transaction() as s:
        first = models.model_for(s, task.id, "minilm", 20)
    more = _with_features(world, task, False, rng, 10, clock)
    _validators_decide(world.node, more, ReviewAnswer.REJECT, clock)
    with world.node.db.transaction() as s:
        kept = models.model_for(s, task.id, "minilm", 20)  # 70 < 60 + 30: the same model
    later = _with_features(world, task, False, rng, 20, clock)
    _validators_decide(world.node, later, ReviewAnswer.REJECT, clock)
    with world.node.db.transaction() as s:
        rebuilt = models.model_for(s, task.id, "minilm", 20)  # 90: rebuilt from the newest 30
    # Assert: the newest 30 were the rejections only, so the rebuilt model learnt no acceptance
    assert first.labelled == 30 and kept is first
    assert rebuilt is not first and rebuilt.labelled == 30
    assert set(rebuilt._y) == {ReviewAnswer.REJECT.klass} and set(first._y) == {0, 1}
