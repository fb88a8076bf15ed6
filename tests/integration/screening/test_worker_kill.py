"""SIGKILL a `datacoop worker` in the middle of 1,000 submissions: each ends with exactly one result."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from tests.conftest import make_account

from datacoop.app import Node, build_node
from datacoop.db.models import Prescreen, ScreeningJob, StageResultRow, Submission
from datacoop.identity import participants
from datacoop.identity.eip712 import SubmissionMessage, sign_typed
from datacoop.settings import Settings
from datacoop.tasks.schemas import SubmissionCreate, TaskCreate

N = 1_000
ENV = {
    "DATACOOP_STAGES": '["size", "duplicates"]',
    "DATACOOP_SCREENING_LEASE_SECONDS": "3",
    "DATACOOP_CHAIN": "off",
}


def _fill(node: Node) -> None:
    now = datetime.now(UTC)
    people = [make_account(1000 + i) for i in range(10)]
    with node.db.transaction() as s:
        rows = [
            participants.as_caller(participants.get_or_create(s, p.address, now), node.auth.chain_id)
            for p in people
        ]
    task = node.tasks.create(rows[0], TaskCreate(
        title="Ventilation ducts", description="photos", modality="image", reward_per_item=1, target_count=N,
        deadline=now + timedelta(days=1), consent_text="ok",
    ))  # fmt: skip
    for i in range(N):
        who, row = people[i % 10], rows[i % 10]
        blob = node.blobs.put_file_bytes([f"item {i}".encode()], row)
        msg = SubmissionMessage(contributor=who.address, task_id=task.id, cid=blob.cid,
                                consent_hash=task.consent_hash, jurisdiction="KE", nonce=i,
                                deadline=int(now.timestamp()) + 3600)  # fmt: skip
        sig = sign_typed(who.key, msg.to_typed_data(node.eip712))
        node.submissions.commit(row, task.id, SubmissionCreate(
            cid=blob.cid, consent_hash=task.consent_hash, jurisdiction="KE", nonce=i,
            deadline=msg.deadline, signature=sig,
        ))  # fmt: skip


def _worker(data_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("DATACOOP_")}, **ENV}
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "datacoop", "worker", "--data-dir", str(data_dir), "--threads", "2"],
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip


def _count(node: Node, query: object) -> int:
    with node.db.transaction() as s:
        return int(s.scalar(query) or 0)  # type: ignore[call-overload]


@pytest.mark.slow
def test_sigkill_mid_batch_leaves_one_result_per_submission(tmp_path: Path) -> None:
    # Prepare
    data_dir = tmp_path / "node"
    node = build_node(
        Settings(data_dir=data_dir, chain="off", stages=["size", "duplicates"]), with_chain=False
    )
    _fill(node)
    done = select(func.count()).select_from(Prescreen)
    # Execute: two workers; kill one with SIGKILL once a tenth is done, start another
    first, second = _worker(data_dir, tmp_path / "w1.log"), _worker(data_dir, tmp_path / "w2.log")
    deadline = time.monotonic() + 120
    while _count(node, done) < N // 10 and time.monotonic() < deadline:
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    third = _worker(data_dir, tmp_path / "w3.log")
    while _count(node, done) < N and time.monotonic() < deadline:
        time.sleep(0.2)
    for proc in (second, third):
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    # Assert
    assert first.returncode == -signal.SIGKILL
    assert _count(node, done) == N, (tmp_path / "w2.log").read_text()[-2000:]
    assert (
        _count(node, select(func.count()).select_from(ScreeningJob).where(ScreeningJob.status != "done")) == 0
    )
    per_sub = select(func.count()).select_from(
        select(StageResultRow.submission_id).group_by(StageResultRow.submission_id, StageResultRow.stage)
        .having(func.count() > 1).subquery()
    )  # fmt: skip
    assert _count(node, per_sub) == 0  # no stage result written twice
    unfinished = (
        select(func.count()).select_from(Submission).where(Submission.state.in_(["received", "screening"]))
    )
    assert _count(node, unfinished) == 0
    node.close()
