"""A contributor's submissions to one task stop at a cap: 429 ``quota_exceeded`` naming field and limit.

The cap is the task's ``rules.max_submissions_per_contributor``, else the node's setting. It is counted
inside the transaction that writes the submission, behind a lock on the contributor's row, so submissions
sent at once cannot pass it.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.unit.api.conftest import signed_body, task_body

from datacoop.app import Node
from datacoop.client import DataCoopClient
from datacoop.db import Database
from datacoop.db.models import Participant
from datacoop.errors import QuotaExceeded
from datacoop.identity.addresses import did_pkh
from datacoop.identity.schemas import Caller
from datacoop.settings import Settings
from datacoop.tasks.schemas import SubmissionCreate


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "node", chain="off", stages=["size"], max_submissions_per_contributor=5
    )


def test_the_fourth_submission_past_a_cap_of_three_is_a_429_naming_the_limit(
    api: TestClient, requester: DataCoopClient, contributor: DataCoopClient, bob: LocalAccount
) -> None:
    # Prepare: the task takes at most 3 submissions from one contributor
    task = requester.create_task(task_body(rules={"max_submissions_per_contributor": 3}))
    cids = [contributor.upload(f"photo {i}".encode()).cid for i in range(4)]
    for cid in cids[:3]:
        contributor.submit(task.id, cid, "KE")
    body = signed_body(contributor, bob, task.id, cids[3], task.consent_hash, nonce=99)
    # Execute
    refused = api.post(f"/v1/tasks/{task.id}/submissions", json=body, headers=contributor._auth_headers())
    # Assert: named, without a Retry-After (waiting does not lift a cap); nothing past it was kept
    assert refused.status_code == 429, refused.text
    error = refused.json()["error"]
    assert (error["code"], error["field"], error["limit"]) == (
        "quota_exceeded",
        "max_submissions_per_contributor",
        3,
    )
    assert f"at most 3 submissions by {bob.address} to task {task.id}" in error["message"]
    assert "Retry-After" not in refused.headers
    assert len(contributor.my_submissions(task_id=task.id)) == 3


def test_the_sdk_raises_the_quota_and_other_contributors_go_on(
    requester: DataCoopClient, contributor: DataCoopClient
) -> None:
    task = requester.create_task(task_body(rules={"max_submissions_per_contributor": 1}))
    contributor.submit(task.id, contributor.upload(b"one").cid, "KE")
    with pytest.raises(QuotaExceeded) as refused:
        contributor.submit(task.id, contributor.upload(b"two").cid, "KE")
    assert (refused.value.field, refused.value.limit) == ("max_submissions_per_contributor", 1)
    requester.submit(
        task.id, requester.upload(b"the requester's own").cid, "KE"
    )  # another account: its own cap


def test_a_task_without_a_cap_takes_the_node_setting(
    requester: DataCoopClient, contributor: DataCoopClient
) -> None:
    task = requester.create_task(task_body())
    for i in range(5):
        contributor.submit(task.id, contributor.upload(f"item {i}".encode()).cid, "KE")
    with pytest.raises(QuotaExceeded) as refused:
        contributor.submit(task.id, contributor.upload(b"the sixth").cid, "KE")
    assert refused.value.limit == 5
    other = requester.create_task(task_body(title="Another task"))
    contributor.submit(other.id, contributor.upload(b"another task's first").cid, "KE")  # per task


def test_submissions_sent_at_once_never_pass_the_cap(
    node: Node, db: Database, requester: DataCoopClient, contributor: DataCoopClient, bob: LocalAccount
) -> None:
    # Prepare: eight signed submissions ready for a task that takes three
    task = requester.create_task(task_body(rules={"max_submissions_per_contributor": 3}))
    bodies = [
        SubmissionCreate.model_validate(
            signed_body(contributor, bob, task.id, contributor.upload(f"race {i}".encode()).cid,
                        task.consent_hash, nonce=1000 + i)
        )
        for i in range(8)
    ]  # fmt: skip
    with db.transaction() as s:
        me = s.scalars(select(Participant).where(Participant.address == bob.address)).one()
        caller = Caller(id=me.id, address=me.address, did=did_pkh(31337, me.address))
    start, outcomes, lock = threading.Barrier(len(bodies)), [], threading.Lock()

    def send(body: SubmissionCreate) -> None:
        start.wait()
        try:
            node.submissions.commit(caller, task.id, body)
            outcome = "kept"
        except QuotaExceeded:
            outcome = "refused"
        with lock:
            outcomes.append(outcome)

    # Execute
    threads = [threading.Thread(target=send, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    # Assert
    assert sorted(outcomes) == ["kept"] * 3 + ["refused"] * 5
    assert len(contributor.my_submissions(task_id=task.id)) == 3
