"""The composition root builds every part before the Node, and commits wake pre-screening."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from datacoop.app import Node, Wakeup, build_node
from datacoop.db import Database
from datacoop.settings import Settings


class _Pool:
    def __init__(self) -> None:
        self.notified = 0

    def notify(self) -> None:
        self.notified += 1


class _Broker:
    def __init__(self) -> None:
        self.offered: list[int] = []

    def offer(self, submission_id: int) -> bool:
        self.offered.append(submission_id)
        return True


def test_every_part_is_given_to_the_node_when_it_is_built(tmp_path: Path, db: Database) -> None:
    assert all(f.init for f in dataclasses.fields(Node))  # nothing is wired after construction
    node = build_node(
        Settings(data_dir=tmp_path, chain="off"), db=db, migrate=False, with_chain=False, check_stages=False
    )
    assert node.submissions.on_committed is node.wakeup
    assert (tmp_path / "download_secret").exists() and (tmp_path / "compute_url_secret").exists()


def test_a_commit_offers_the_job_to_the_broker_and_wakes_started_pools() -> None:
    broker, pool = _Broker(), _Pool()
    wakeup = Wakeup(broker)  # type: ignore[arg-type]
    wakeup(1)  # no pool started yet: the broker alone hears of it
    assert wakeup.notifies(pool) is pool  # type: ignore[arg-type]
    wakeup(2)
    assert (broker.offered, pool.notified) == ([1, 2], 1)
