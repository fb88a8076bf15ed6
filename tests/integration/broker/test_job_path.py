"""The job path a broker message drives: lease one named submission, process it, or say who holds it.

No broker here: ``ScreeningService.work_on`` and ``overdue`` on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from tests.conftest import ManualClock

from datacoop.app import Node
from datacoop.client import DataCoopClient
from datacoop.db.models import Prescreen
from datacoop.tasks.schemas import TaskPublic


def _submit(client: DataCoopClient, task_id: int, data: bytes) -> int:
    return client.submit(task_id, client.upload(data).cid, "KE").id


def _results(node: Node, submission_id: int) -> int:
    with node.db.transaction() as s:
        query = select(func.count()).select_from(Prescreen).where(Prescreen.submission_id == submission_id)
        return int(s.scalar(query) or 0)


def test_work_on_processes_the_named_submission_once(
    node: Node, contributor: DataCoopClient, task: TaskPublic
) -> None:
    # Prepare
    first, second = _submit(contributor, task.id, b"one"), _submit(contributor, task.id, b"two")
    # Execute
    assert node.screening.work_on(second, "w") is None
    again = node.screening.work_on(second, "w")  # a duplicate message
    # Assert
    assert again is None
    assert _results(node, second) == 1
    assert _results(node, first) == 0  # only the named one
    assert contributor.get_submission(second).state == "in_review"


def test_work_on_leaves_a_live_lease_alone_and_says_when_it_runs_out(
    node: Node, contributor: DataCoopClient, task: TaskPublic, clock: ManualClock
) -> None:
    # Prepare: worker A holds the job (lease: the default five minutes)
    sid = _submit(contributor, task.id, b"a photo")
    assert node.screening.claim("A") == sid
    # Execute
    clock.advance(minutes=2)
    wait = node.screening.work_on(sid, "B")
    # Assert
    assert wait == timedelta(minutes=3)
    assert _results(node, sid) == 0
    clock.advance(minutes=3, seconds=1)  # A died: its lease ran out, B takes the job
    assert node.screening.work_on(sid, "B") is None
    assert _results(node, sid) == 1


def test_work_on_an_unknown_submission_does_nothing(node: Node) -> None:
    assert node.screening.work_on(987654, "w") is None


def test_overdue_finds_unsent_and_orphaned_jobs_and_backs_off(
    node: Node, contributor: DataCoopClient, task: TaskPublic, clock: ManualClock
) -> None:
    # Prepare: a job whose message was never sent
    sid = _submit(contributor, task.id, b"never published")
    after = timedelta(seconds=60)
    # Execute / Assert: due after a minute, then at gaps that double with its age
    assert node.screening.overdue(after=after) == []
    clock.advance(seconds=61)
    assert node.screening.overdue(after=after) == [sid]
    assert node.screening.overdue(after=after) == []  # just published
    clock.advance(seconds=61)
    assert node.screening.overdue(after=after) == [sid]  # waited 61 s, as long as before
    clock.advance(seconds=61)
    assert node.screening.overdue(after=after) == []  # now it waits 122 s
    clock.advance(seconds=61)
    assert node.screening.overdue(after=after) == [sid]
    # a worker leases it and dies: due again once the lease has run out, never while it is live
    assert node.screening.claim("A") == sid
    clock.advance(minutes=4)
    assert node.screening.overdue(after=after) == []
    clock.advance(minutes=15)
    assert node.screening.overdue(after=after) == [sid]
    node.screening.work_on(sid, "B")
    clock.advance(hours=1)
    assert node.screening.overdue(after=after) == []  # done: never again
