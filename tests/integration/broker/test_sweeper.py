"""A job whose message was never sent (a crash between commit and publish) is published by the sweeper."""

from __future__ import annotations

import functools
import signal
from datetime import timedelta
from pathlib import Path

import pytest
from tests.conftest import ManualClock
from tests.integration.broker.support import (
    assert_one_final_result_each,
    fill,
    finished,
    messages_left,
    start_worker,
    wait_for,
)

from datacoop.app import build_node
from datacoop.screening.broker import Sweeper
from datacoop.settings import Settings

N = 10


@pytest.mark.slow
def test_the_sweeper_publishes_jobs_whose_message_was_never_sent(
    tmp_path: Path, broker_settings: Settings, broker_env: dict[str, str], broker_url: str, queue: str
) -> None:
    # Prepare: commits that never reach the broker
    node = build_node(broker_settings, with_chain=False)
    node.submissions.on_committed = None
    fill(node, N)
    assert messages_left(broker_url, queue) == 0
    # Execute: a worker that sweeps every second
    log = tmp_path / "worker.log"
    worker = start_worker(broker_settings.data_dir, {**broker_env, "DATACOOP_BROKER_SWEEP_SECONDS": "1"}, log)
    done = wait_for(lambda: finished(node) == N, timeout=90)
    worker.send_signal(signal.SIGTERM)
    code = worker.wait(120)
    # Assert
    assert done, log.read_text()[-3000:]
    assert code == 0
    assert_one_final_result_each(node, N)
    node.close()


def test_a_sweep_publishes_each_overdue_job_once(
    broker_settings: Settings, broker_url: str, queue: str
) -> None:
    # Prepare: three commits that never reach the broker, on a clock the test moves
    clock = ManualClock()
    node = build_node(broker_settings, with_chain=False, clock=clock)
    node.submissions.on_committed = None
    fill(node, 3)
    assert node.broker is not None
    sweeper = Sweeper(
        functools.partial(node.screening.overdue, after=timedelta(seconds=60)),
        node.broker.publish,
        timedelta(1),
    )
    # Execute
    too_soon = sweeper.sweep()
    clock.advance(seconds=61)
    swept = sweeper.sweep()
    again = sweeper.sweep()
    # Assert
    assert (too_soon, swept, again) == (0, 3, 0)
    assert messages_left(broker_url, queue) == 3
    node.close()
