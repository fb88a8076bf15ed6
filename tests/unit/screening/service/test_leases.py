"""Leases of workers that are provably gone are released at once; a live holder's lease stands."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from datacoop.app import Node
from datacoop.client import DataCoopClient
from datacoop.db.models import ScreeningJob
from datacoop.holders import holder_name
from datacoop.tasks.schemas import TaskPublic


def _dead_holder() -> str:
    """The holder name of a process of this host that ran, and was killed."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    start = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    proc.kill()
    proc.wait()
    host, boot, _pid, _start = holder_name().rsplit(":", 3)
    return f"{host}:{boot}:{proc.pid}:{start}/0"


def _lease_to(node: Node, holder: str) -> int:
    submission_id = node.screening.claim(holder)
    assert submission_id is not None
    return submission_id


def _status(node: Node, submission_id: int) -> tuple[str, str | None]:
    with node.db.transaction() as s:
        job = s.scalar(select(ScreeningJob).where(ScreeningJob.submission_id == submission_id))
        assert job is not None
        return job.status, job.worker


def test_an_idle_worker_takes_over_the_job_of_a_dead_one(
    node: Node, contributor: DataCoopClient, task: TaskPublic
) -> None:
    # Prepare: two jobs, one leased by a live process (this one), one by a process that was killed
    first = contributor.submit(task.id, contributor.upload(b"held by the living").cid, "KE").id
    second = contributor.submit(task.id, contributor.upload(b"held by the dead").cid, "KE").id
    live, dead = holder_name("/live"), _dead_holder()
    assert _lease_to(node, live) == first and _lease_to(node, dead) == second
    # Execute: the leases have minutes left; another worker looks for work
    assert node.screening.work_once(holder_name("/new"))
    # Assert: the dead holder's job was released and screened; the live one's stands
    assert _status(node, second)[0] == "done"
    assert _status(node, first) == ("running", live)
    assert not node.screening.work_once(holder_name("/new"))


def test_a_broker_message_for_a_dead_holders_job_is_worked_at_once(
    node: Node, contributor: DataCoopClient, task: TaskPublic
) -> None:
    sid = contributor.submit(task.id, contributor.upload(b"redelivered").cid, "KE").id
    _lease_to(node, _dead_holder())
    assert node.screening.work_on(sid, holder_name("/broker")) is None  # done, not "wait 300 s"
    assert _status(node, sid)[0] == "done"


def test_the_sweeper_releases_dead_holders_jobs(
    node: Node, contributor: DataCoopClient, task: TaskPublic
) -> None:
    sid = contributor.submit(task.id, contributor.upload(b"swept").cid, "KE").id
    _lease_to(node, _dead_holder())
    assert node.screening.release_gone() == 1
    assert _status(node, sid)[0] == "queued"
    assert node.screening.release_gone() == 0
