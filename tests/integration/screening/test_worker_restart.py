"""SIGKILL the worker holding a job's lease, start another: the job is screened within seconds.

Before, the job stayed ``running`` (its submission ``screening``) for the whole lease, five
minutes by default, while the new worker idled. The lease names its holder's process, so a
worker on the same host sees that it is gone and releases the lease; a live holder keeps it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from tests.conftest import make_account

from datacoop.app import Node, build_node
from datacoop.db.models import Prescreen, ScreeningJob, Submission
from datacoop.identity import participants
from datacoop.identity.eip712 import SubmissionMessage, sign_typed
from datacoop.settings import Settings
from datacoop.tasks.schemas import SubmissionCreate, TaskCreate

# A worker process whose only stage never returns: it holds its lease until it is killed.
STUCK_WORKER = """
import sys, time
from pathlib import Path
from datacoop.app import build_node
from datacoop.tasks.rules import Modality
from datacoop.screening.workers import worker_name
from datacoop.screening.service import ScreeningService
from datacoop.settings import Settings

class Stuck:
    name, cost, modalities = "stuck", 0, frozenset(Modality)
    def run(self, item, task):
        time.sleep(3600)

node = build_node(Settings(data_dir=Path(sys.argv[1]), chain="off", stages=["size"]), with_chain=False)
ScreeningService(node.db, node.store, stage_classes=lambda modality: [Stuck]).work_once(worker_name("/0"))
"""


def _one_submission(node: Node) -> int:
    now = datetime.now(UTC)
    who = make_account(0x5EED)
    with node.db.transaction() as s:
        row = participants.as_caller(participants.get_or_create(s, who.address, now), node.auth.chain_id)
    task = node.tasks.create(row, TaskCreate(
        title="Ventilation ducts", description="photos", modality="image", reward_per_item=1, target_count=1,
        deadline=now + timedelta(days=1), consent_text="ok",
    ))  # fmt: skip
    blob = node.blobs.put_file_bytes([b"one item"], row)
    msg = SubmissionMessage(contributor=who.address, task_id=task.id, cid=blob.cid,
                            consent_hash=task.consent_hash, jurisdiction="KE", nonce=1,
                            deadline=int(now.timestamp()) + 3600)  # fmt: skip
    return node.submissions.commit(row, task.id, SubmissionCreate(
        cid=blob.cid, consent_hash=task.consent_hash, jurisdiction="KE", nonce=1, deadline=msg.deadline,
        signature=sign_typed(who.key, msg.to_typed_data(node.eip712)),
    )).id  # fmt: skip


def _env() -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DATACOOP_")}
    return {**clean, "DATACOOP_CHAIN": "off", "DATACOOP_STAGES": '["size"]'}  # the default 300 s lease


def _job(node: Node, submission_id: int) -> tuple[str, str | None, bool]:
    with node.db.transaction() as s:
        job = s.scalar(select(ScreeningJob).where(ScreeningJob.submission_id == submission_id))
        assert job is not None
        return job.status, job.worker, s.get(Prescreen, submission_id) is not None


def _wait(until: float, done: object) -> None:
    while not done() and time.monotonic() < until:  # type: ignore[operator]
        time.sleep(0.1)


@pytest.mark.slow
def test_a_restarted_worker_screens_the_job_of_a_killed_one_within_seconds(tmp_path: Path) -> None:
    # Prepare: one submission, leased by a worker stuck in its stage
    data_dir = tmp_path / "node"
    node = build_node(Settings(data_dir=data_dir, chain="off", stages=["size"]), with_chain=False)
    sid = _one_submission(node)
    holder = subprocess.Popen([sys.executable, "-c", STUCK_WORKER, str(data_dir)], env=_env())
    _wait(time.monotonic() + 60, lambda: _job(node, sid)[0] == "running")
    status, held_by, _ = _job(node, sid)
    assert status == "running" and held_by is not None and str(holder.pid) in held_by
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "datacoop", "worker", "--data-dir", str(data_dir)],
        stdout=log, stderr=subprocess.STDOUT, env=_env(),
    )  # fmt: skip
    try:
        # Execute: while the holder lives, its lease stands; then it is killed like `kill -9`
        time.sleep(5)
        alive = _job(node, sid)
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        killed_at = time.monotonic()
        _wait(killed_at + 30, lambda: _job(node, sid)[2])
        took = time.monotonic() - killed_at
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
        log.close()
    # Assert
    assert alive == ("running", held_by, False)  # a live holder is never taken for gone
    assert _job(node, sid)[2], (tmp_path / "worker.log").read_text()[-2000:]
    assert took < 30  # the lease had 5 minutes left
    with node.db.transaction() as s:
        assert s.get(Submission, sid).state not in ("received", "screening")  # type: ignore[union-attr]
    node.close()
