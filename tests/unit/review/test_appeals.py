"""Appeals: once per rejected item, a fresh jury of 2k + 1 that never saw it, a final recorded outcome."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from tests.unit.review.review_world import World

from datacoop.app import Node
from datacoop.client import DataCoopClient
from datacoop.db.models import ReviewAssignment
from datacoop.errors import Conflict, Forbidden, InvalidTransition
from datacoop.review.stakes import InMemoryStakes


@pytest.fixture
def world(
    node: Node, sdk: Any, requester: DataCoopClient, contributor: DataCoopClient, stakes: InMemoryStakes
) -> World:
    return World(node, sdk, requester, contributor, stakes)


def _validators_on(node: Node, submission_id: int, kind: str) -> set[int]:
    with node.db.transaction() as s:
        return set(
            s.scalars(
                select(ReviewAssignment.validator_id).where(
                    ReviewAssignment.submission_id == submission_id, ReviewAssignment.kind == kind
                )
            )
        )


def _review(world: World, validators: list[DataCoopClient], answer: str) -> None:
    """Everyone asks for work and answers ``answer`` until nobody is served."""
    served = True
    while served:
        served = False
        for v in validators:
            item = world.next_real(v)
            if item is not None:
                v.vote(item, answer)
                served = True


def test_a_rejected_item_is_appealed_once_and_a_disjoint_jury_decides(world: World) -> None:
    # Prepare: k = 1: the first review takes 1 to 3 validators, the jury 2k + 1 = 3 others
    task = world.task(k=1, max_votes=3)
    validators = [world.validator(0x1100 + i) for i in range(6)]
    world.qualify(*validators)
    sid = world.in_review(task, b"a photo a careless validator rejects")
    _review(world, validators, "reject")
    assert world.contributor.get_submission(sid).state == "rejected"
    first_review = _validators_on(world.node, sid, "normal")
    assert 1 <= len(first_review) <= 3
    # Execute
    appeal = world.contributor.appeal(sid, "the mask is clearly visible")
    # Assert: back in review, a jury of 2k + 1 = 3, none of whom saw the item
    assert world.contributor.get_submission(sid).state == "in_review"
    assert (appeal.status, appeal.jury, appeal.jury_size) == ("open", [], 3)  # jurors unnamed while sitting
    assert world.contributor.review_status(sid).status == "open"
    jury = _validators_on(world.node, sid, "appeal")
    assert len(jury) == 3 and jury.isdisjoint(first_review)
    _review(world, validators, "accept")
    decided = world.contributor.get_appeal(sid)
    assert (decided.status, decided.outcome) == ("final", "accept")
    assert len(decided.jury) == 3  # named once final
    assert decided.decided_at is not None
    sub = world.contributor.get_submission(sid)
    assert sub.state == "accepted"
    assert [h.to_state for h in sub.history][-3:] == ["rejected", "in_review", "accepted"]
    assert sub.history[-2].reason == "appealed by the contributor: the mask is clearly visible"
    assert sub.history[-1].reason is not None and sub.history[-1].reason.startswith(
        "appeal: accept by a jury of 3"
    )
    assert world.requester.review_status(sid).decided_by == "appeal"


def test_a_second_appeal_is_refused(world: World) -> None:
    task = world.task(k=1, max_votes=3)
    validators = [world.validator(0x1200 + i) for i in range(6)]
    world.qualify(*validators)
    sid = world.in_review(task, b"a photo to appeal twice")
    _review(world, validators, "reject")
    world.contributor.appeal(sid, "please look again")
    _review(world, validators, "reject")  # the jury agrees with the rejection: final
    assert world.contributor.get_appeal(sid).outcome == "reject"
    assert world.contributor.get_submission(sid).state == "rejected"
    with pytest.raises(Conflict) as again:
        world.contributor.appeal(sid, "and again")
    assert again.value.field == "submission_id"


def test_only_the_contributor_appeals_and_only_a_rejection(world: World) -> None:
    task = world.task(k=1)
    sid = world.in_review(task, b"a photo still in review")
    with pytest.raises(InvalidTransition):
        world.contributor.appeal(sid, "too early")
    with pytest.raises(Forbidden):
        world.requester.appeal(sid, "not mine")
