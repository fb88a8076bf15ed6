"""What the broker tests share: a batch of signed submissions, `datacoop worker` processes, counts."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pika
import redis
from sqlalchemy import func, select
from tests.conftest import make_account

from datacoop.app import Node
from datacoop.db.models import Prescreen, ScreeningJob, StageResultRow, Submission
from datacoop.identity import participants
from datacoop.identity.eip712 import SubmissionMessage, sign_typed
from datacoop.tasks.schemas import SubmissionCreate, TaskCreate

STAGES = ("size", "duplicates")  # cheap stages: the queue is under test, not the checks


def fill(node: Node, n: int) -> list[int]:
    """Commit ``n`` signed submissions from ten contributors (each commit publishes, if a broker is set)."""
    now = datetime.now(UTC)
    people = [make_account(2000 + i) for i in range(10)]
    with node.db.transaction() as s:
        rows = [
            participants.as_caller(participants.get_or_create(s, p.address, now), node.auth.chain_id)
            for p in people
        ]
    task = node.tasks.create(rows[0], TaskCreate(
        title="Ventilation ducts", description="photos", modality="image", reward_per_item=1, target_count=n,
        deadline=now + timedelta(days=1), consent_text="ok",
    ))  # fmt: skip
    ids = []
    for i in range(n):
        who, row = people[i % 10], rows[i % 10]
        blob = node.blobs.put_file_bytes([f"item {i}".encode()], row)
        msg = SubmissionMessage(contributor=who.address, task_id=task.id, cid=blob.cid,
                                consent_hash=task.consent_hash, jurisdiction="KE", nonce=i,
                                deadline=int(now.timestamp()) + 3600)  # fmt: skip
        sig = sign_typed(who.key, msg.to_typed_data(node.eip712))
        ids.append(node.submissions.commit(row, task.id, SubmissionCreate(
            cid=blob.cid, consent_hash=task.consent_hash, jurisdiction="KE", nonce=i,
            deadline=msg.deadline, signature=sig,
        )).id)  # fmt: skip
    return ids


def start_worker(data_dir: Path, env: dict[str, str], log: Path, threads: int = 2) -> subprocess.Popen[bytes]:
    """`datacoop worker` in a process of its own, its output appended to ``log``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DATACOOP_")}
    cmd = [sys.executable, "-m", "datacoop", "worker", "--data-dir", str(data_dir), "--threads", str(threads)]
    with log.open("ab") as out:
        return subprocess.Popen(
            cmd,
            stdout=out, stderr=subprocess.STDOUT, env={**clean, **env},
        )  # fmt: skip


def count(node: Node, query: object) -> int:
    with node.db.transaction() as s:
        return int(s.scalar(query) or 0)  # type: ignore[call-overload]


def finished(node: Node) -> int:
    return count(node, select(func.count()).select_from(Prescreen))


def wait_for(condition: Callable[[], bool], timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(step)
    return True


def assert_one_final_result_each(node: Node, n: int) -> None:
    """Every submission has one prescreens row, no stage result twice, a final state; no job left open."""
    assert finished(node) == n
    open_jobs = select(func.count()).select_from(ScreeningJob).where(ScreeningJob.status != "done")
    assert count(node, open_jobs) == 0
    twice = select(func.count()).select_from(
        select(StageResultRow.submission_id).group_by(StageResultRow.submission_id, StageResultRow.stage)
        .having(func.count() > 1).subquery()
    )  # fmt: skip
    assert count(node, twice) == 0
    unfinished = (
        select(func.count()).select_from(Submission).where(Submission.state.in_(["received", "screening"]))
    )
    assert count(node, unfinished) == 0


def messages_left(url: str, queue: str) -> int:
    """Messages the broker still holds for the queue (waiting or delivered but not acknowledged)."""
    if url.startswith("redis"):
        client = redis.Redis.from_url(url)
        try:
            return int(client.hlen(f"datacoop:{queue}.msgs"))  # a message leaves this hash on ack
        finally:
            client.close()
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        declared = connection.channel().queue_declare(queue, passive=True)
        return int(declared.method.message_count)
    except pika.exceptions.ChannelClosedByBroker as exc:
        if exc.reply_code == 404:  # declared on the first publish: none yet
            return 0
        raise
    finally:
        connection.close()


def count_running(node: Node) -> int:
    """Jobs leased and not finished: a worker that stopped cleanly leaves none."""
    return count(node, select(func.count()).select_from(ScreeningJob).where(ScreeningJob.status == "running"))
