"""SIGKILL a `datacoop worker --broker` in the middle of a batch: every submission ends with one result.

The sweeper is kept out (``broker_sweep_seconds`` = an hour): what the killed worker
held comes back through the broker alone — RabbitMQ re-delivers when the connection
drops, Redis re-queues once the dead worker's heartbeat is two seconds old.
"""

from __future__ import annotations

import json
import signal
import socket
import time
from pathlib import Path

import pytest
from sqlalchemy import Select, func, select
from tests.integration.broker.support import (
    assert_one_final_result_each,
    count,
    fill,
    finished,
    messages_left,
    start_worker,
    wait_for,
)

from datacoop.app import Node, build_node
from datacoop.db.models import ScreeningJob
from datacoop.settings import Settings

N = 200


def _held_by(pid: int) -> Select[int]:
    """The jobs a worker process holds leased (worker names are host:pid/thread)."""
    prefix = f"{socket.gethostname()}:{pid}/"
    return select(ScreeningJob.submission_id).where(
        ScreeningJob.status == "running", ScreeningJob.worker.startswith(prefix)
    )


def _open(node: Node, ids: list[int]) -> int:
    return count(node, select(func.count()).select_from(ScreeningJob).where(
        ScreeningJob.submission_id.in_(ids), ScreeningJob.status != "done"
    ))  # fmt: skip


@pytest.mark.slow
def test_sigkill_mid_batch_loses_nothing(
    tmp_path: Path, broker_settings: Settings, broker_env: dict[str, str], broker_url: str, queue: str
) -> None:
    # Prepare
    node = build_node(broker_settings, with_chain=False)
    fill(node, N)
    first = start_worker(broker_settings.data_dir, broker_env, tmp_path / "w1.log")
    second = start_worker(broker_settings.data_dir, broker_env, tmp_path / "w2.log")
    assert wait_for(lambda: finished(node) >= N // 10, timeout=120), (tmp_path / "w1.log").read_text()[-3000:]
    # Execute: SIGKILL the first mid-batch, start a third
    first.send_signal(signal.SIGKILL)
    first.wait()
    killed_at, done_at_kill = time.monotonic(), finished(node)
    with node.db.transaction() as s:
        in_flight = list(s.scalars(_held_by(first.pid)))
    third = start_worker(broker_settings.data_dir, broker_env, tmp_path / "w3.log")
    taken_over = wait_for(lambda: _open(node, in_flight) == 0, timeout=120, step=0.1)
    in_flight_s = time.monotonic() - killed_at
    all_done = wait_for(lambda: finished(node) == N, timeout=120, step=0.1)
    recovered_s = time.monotonic() - killed_at
    acked = wait_for(lambda: messages_left(broker_url, queue) == 0, timeout=15)
    for proc in (second, third):
        proc.send_signal(signal.SIGTERM)
        proc.wait(120)
    # Assert
    assert first.returncode == -signal.SIGKILL
    assert taken_over and all_done, (tmp_path / "w2.log").read_text()[-3000:]
    assert_one_final_result_each(node, N)
    assert acked, f"{messages_left(broker_url, queue)} message(s) never acknowledged"
    reran = count(node, select(func.count()).select_from(ScreeningJob).where(ScreeningJob.attempts > 1))
    assert reran >= len(in_flight)  # what the dead worker held was leased again, then finished
    print(json.dumps({
        "broker": broker_url.split("://")[0], "submissions": N, "kills": 1, "done_at_kill": done_at_kill,
        "in_flight_at_kill": len(in_flight), "jobs_run_again": reran,
        "in_flight_done_s": round(in_flight_s, 2), "all_done_s": round(recovered_s, 2),
    }))  # fmt: skip
    node.close()
