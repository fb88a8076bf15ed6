"""Accepted submissions made the real way (uploaded, signed, committed), then accepted by hand.

Pre-screening and review are other modules' work; here a submission is moved to ``accepted``
through the one transition function, with a scrubbed copy stored as pre-screening would.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pytest
from sqlalchemy.engine import make_url

from datacoop.app import Node
from datacoop.client import DataCoopClient
from datacoop.db import Database
from datacoop.db.models import Prescreen, StageResultRow, Submission
from datacoop.tasks.schemas import TaskPublic
from datacoop.tasks.states import SubmissionState
from datacoop.tasks.transitions import move


@dataclass
class Accepted:
    node: Node
    task: TaskPublic
    contributor: DataCoopClient
    ids: list[int]

    def add(self, count: int, *, jurisdiction: str = "KE") -> list[int]:
        """``count`` more accepted submissions (distinct bytes), their ids."""
        new = []
        for _ in range(count):
            n = len(self.ids) + 1
            original = b"original photo %d with EXIF" % n
            blob = self.contributor.upload(original)
            sub = self.contributor.submit(task_id=self.task.id, cid=blob.cid, jurisdiction=jurisdiction)
            scrubbed = self.node.store.put([b"scrubbed photo %d" % n], max_bytes=1 << 20).cid
            _accept(self.node, sub.id, scrubbed, n)
            self.ids.append(sub.id)
            new.append(sub.id)
        return new


def cli_database_url(db: Database) -> str:
    """The database's URL as a CLI on the data directory takes it (``DATACOOP_DATABASE_URL``).

    A PostgreSQL test schema travels in libpq's ``options`` (``-csearch_path=...``).
    """
    if db.schema is None:
        return db.url
    url = make_url(db.url).update_query_dict({"options": f"-csearch_path={db.schema}"})
    return url.render_as_string(hide_password=False)


def _accept(node: Node, submission_id: int, scrubbed: str, n: int) -> None:
    now = datetime.now().astimezone()
    with node.db.transaction() as s:
        row = s.get(Submission, submission_id)
        assert row is not None
        move(s, row, SubmissionState.SCREENING, None, now)
        move(s, row, SubmissionState.ACCEPTED, "auto-accepted", now)
        s.add(
            Prescreen(
                submission_id=submission_id,
                outcome="accepted",
                reasons=[],
                phash=None,
                scrubbed_cid=scrubbed,
                worker="test",
                completed_at=now,
            )
        )
        for position, (stage, details) in enumerate(
            [
                ("decode", {"format": "jpeg", "width": 640, "height": 480}),
                ("quality", {"sharpness": 100.0 + n}),
            ]
        ):
            s.add(
                StageResultRow(
                    submission_id=submission_id,
                    stage=stage,
                    position=position,
                    verdict="pass",
                    score=1.0,
                    reasons=[],
                    details=details,
                    artifacts={},
                    created_at=now,
                )
            )


@pytest.fixture
def accepted(node: Node, task: TaskPublic, contributor: DataCoopClient) -> Accepted:
    made = Accepted(node, task, contributor, [])
    made.add(3)
    return made
