"""Contributor activity read from the database for the fraud stage."""

from __future__ import annotations

from typing import Any

from tests.conftest import ManualClock, make_account

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


def test_activity_counts_other_accounts_on_the_same_device(
    node: Node, sdk: Any, task: TaskPublic, clock: ManualClock
) -> None:
    # Prepare: three accounts on one phone (one also on a tablet shared with a fourth), a fifth alone
    clients = [sdk(make_account(0xD00 + i)) for i in range(5)]
    sent = [(0, "phone"), (1, "phone"), (2, "phone"), (2, "tablet"), (3, "tablet"), (4, None), (0, "phone")]
    for i, (who, device) in enumerate(sent):
        client = clients[who]
        client.submit(task.id, client.upload(f"item {i}".encode()).cid, "KE", device_fingerprint=device)
    activity = DatabaseActivity(node.db, clock=clock, ttl_s=0)
    # Execute
    shared = [activity(c.account.address)[0][3] for c in clients]
    # Assert
    assert shared == [2, 2, 3, 1, 0]
