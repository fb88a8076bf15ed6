"""Dataset versions of small labelled images, made the real way (uploaded, signed, committed).

Pre-screening and review are other modules' work: a submission is accepted through the one
transition function, and labels come from a reader handed to the real DatasetService.
"""

from __future__ import annotations

import hashlib
import io
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image
from sqlalchemy import select
from tests.unit.api.conftest import task_body

from datacoop.app import Node
from datacoop.client import DataCoopClient
from datacoop.compute.schemas import PolicyBody
from datacoop.datasets.service import DatasetService
from datacoop.db.models import Participant, Prescreen, StageResultRow, Submission
from datacoop.identity import participants
from datacoop.tasks.states import SubmissionState
from datacoop.tasks.transitions import move

__all__ = ["COLOURS", "approve", "image", "labelled_images", "make_version"]

COLOURS = {"red": (200, 40, 40), "blue": (40, 40, 200)}


def image(rgb: tuple[int, int, int], rng: np.random.Generator, size: int = 24) -> bytes:
    """A noisy PNG around one colour (noise keeps every image's bytes distinct)."""
    pixels = np.clip(np.array(rgb) + rng.normal(0, 40, (size, size, 3)), 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def labelled_images(n: int, seed: int, shift: tuple[int, int, int] = (0, 0, 0)) -> list[tuple[bytes, str]]:
    """``n`` images, half red and half blue, each colour shifted by ``shift`` (a jurisdiction's look)."""
    rng = np.random.default_rng(seed)
    made = []
    for i in range(n):
        label = "red" if i % 2 == 0 else "blue"
        rgb = tuple(int(c + d) for c, d in zip(COLOURS[label], shift, strict=True))
        made.append((image(rgb, rng), label))  # type: ignore[arg-type]
    return made


def _accept(node: Node, submission_id: int) -> None:
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
                scrubbed_cid=None,
                worker="test",
                completed_at=now,
            )
        )
        s.add(
            StageResultRow(
                submission_id=submission_id,
                stage="decode",
                position=0,
                verdict="pass",
                score=1.0,
                reasons=[],
                details={"format": "png"},
                artifacts={},
                created_at=now,
            )
        )


def approve(node: Node, version_id: int, *algorithms: Path) -> None:
    """The operator (publisher of the test datasets) approves these algorithm files for the version."""
    hashes = [hashlib.sha256(p.read_bytes()).hexdigest() for p in algorithms]
    node.compute.set_policy(None, version_id, PolicyBody(mode="approved", approved=hashes))


def make_version(
    node: Node, requester: DataCoopClient, contributor: DataCoopClient, items: list[tuple[bytes, str]],
    jurisdiction: str = "DE", *, owned: bool = False,
) -> int:  # fmt: skip
    """A dataset version of ``items`` (bytes, label) contributed from ``jurisdiction``; its id.

    ``owned``: the requester publishes the dataset (else the operator does).
    """
    task = requester.create_task(task_body())
    labels: dict[int, dict[str, list[str]]] = {}
    for data, label in items:
        blob = contributor.upload(data)
        sub = contributor.submit(task_id=task.id, cid=blob.cid, jurisdiction=jurisdiction)
        _accept(node, sub.id)
        labels[sub.id] = {"tags": [label]}
    datasets = DatasetService(
        node.db, node.store, node.blobs, node.eip712,
        labels=lambda s, ids: {i: labels.get(i, {}) for i in ids},
    )  # fmt: skip
    owner = None
    if owned:
        with node.db.transaction() as s:
            row = s.scalars(select(Participant).where(Participant.address == requester.account.address)).one()
            owner = participants.as_caller(row, node.auth.chain_id)
    dataset = datasets.create(owner, f"images {jurisdiction}", {"task_ids": [task.id]})
    return datasets.create_version(dataset.id).id
