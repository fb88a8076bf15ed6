"""Submissions published on commit reach a `datacoop worker --broker` process; one result each, all acked."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from tests.integration.broker.support import (
    assert_one_final_result_each,
    count_running,
    fill,
    finished,
    messages_left,
    start_worker,
    wait_for,
)

from datacoop.app import build_node
from datacoop.settings import Settings

N = 30
pytestmark = pytest.mark.slow  # a worker process starts in each (imports: seconds on a loaded machine)


def test_published_submissions_each_get_one_result_and_are_acked(
    tmp_path: Path, broker_settings: Settings, broker_env: dict[str, str], broker_url: str, queue: str
) -> None:
    # Prepare: every commit publishes one message
    node = build_node(broker_settings, with_chain=False)
    fill(node, N)
    assert messages_left(broker_url, queue) == N
    # Execute
    log = tmp_path / "worker.log"
    worker = start_worker(broker_settings.data_dir, broker_env, log)
    done = wait_for(lambda: finished(node) == N, timeout=60)
    acked = wait_for(lambda: messages_left(broker_url, queue) == 0, timeout=10)
    worker.send_signal(signal.SIGTERM)
    code = worker.wait(120)
    # Assert
    assert done, log.read_text()[-3000:]
    assert_one_final_result_each(node, N)
    assert acked, f"{messages_left(broker_url, queue)} message(s) never acknowledged"
    assert code == 0, log.read_text()[-3000:]
    assert "worker ready: 2 thread(s) on broker queue" in log.read_text()
    node.close()


def test_sigterm_finishes_the_current_jobs_and_hands_the_rest_back(
    tmp_path: Path, broker_settings: Settings, broker_env: dict[str, str], broker_url: str, queue: str
) -> None:
    # Prepare: a slower batch (one thread) so that SIGTERM lands in its middle
    node = build_node(broker_settings, with_chain=False)
    fill(node, 80)
    log = tmp_path / "worker.log"
    worker = start_worker(broker_settings.data_dir, broker_env, log, threads=1)
    assert wait_for(lambda: finished(node) >= 5, timeout=60), log.read_text()[-3000:]
    # Execute
    worker.send_signal(signal.SIGTERM)
    code = worker.wait(120)
    # Assert: stopped cleanly, no job half done, every unfinished submission still has its message
    done = finished(node)
    assert code == 0, log.read_text()[-3000:]
    assert "stopping after the current job" in log.read_text()
    assert count_running(node) == 0
    assert done < 80, "the batch finished before the signal: nothing was tested"
    assert messages_left(broker_url, queue) >= 80 - done
    node.close()
