"""Contributor activity read from the database for the fraud stage."""

from __future__ import annotations

from tests.conftest import ManualClock

from datacoop.app import Node
from datacoop.client import DataCoopClient
from datacoop.screening.activity import DatabaseActivity
from datacoop.screening.stages.fraud import ContributorActivity
from datacoop.tasks.schemas import TaskPublic


def test_activity_counts_recent_submissions_and_rejections(
    node: Node, contributor: DataCoopClient, requester: DataCoopClient, task: TaskPublic, clock: ManualClock
) -> None:
    # Prepare: bob submits three items (one a copy of the first: rejected as a duplicate); alice one
    for data in (b"one", b"two", b"one"):
        contributor.submit(task.id, contributor.upload(data).cid, "KE")
    requester.submit(task.id, requester.upload(b"alice's").cid, "KE")
    while node.screening.work_once("w"):
        pass
    activity = DatabaseActivity(node.db, clock=clock, ttl_s=0)
    # Execute
    bob, everyone = activity(contributor.account.address)  # type: ignore[union-attr]
    clock.advance(hours=2)
    later, _ = activity(contributor.account.address)  # type: ignore[union-attr]
    # Assert
    assert bob == ContributorActivity(3, ContributorActivity.rejected_share_of(1, 3), 0, 0).vector()
    assert len(everyone) == 2
    assert later[0] == 0  # nothing in the last hour any more
    assert activity("0x" + "00" * 20)[0] == [0.0, 0.0, 0.0, 0.0]
