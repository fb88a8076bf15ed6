"""Sybil accounts on a real anvil: one device and one funder flag each of them for review; a quota caps each.

The funder is read from the chain's own blocks (real ETH transfers); the submissions are signed by each
account's key and sent through the SDK to the in-process API, then screened by the node's workers' code.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from tests.conftest import make_account
from tests.unit.api.conftest import signed_body, task_body

from datacoop.app import Node, build_node
from datacoop.chain.anvil import AnvilNode
from datacoop.chain.client import ChainClient
from datacoop.db import Database
from datacoop.settings import Settings
from datacoop.tasks.states import SubmissionState


@pytest.fixture
def node(
    tmp_path: Path, db: Database, clock: Any, anvil: AnvilNode, accounts: list[LocalAccount]
) -> Iterator[Node]:
    settings = Settings(
        data_dir=tmp_path / "node", chain="rpc", rpc_url=anvil.url, operator_key="0x" + accounts[0].key.hex(),
        stages=["size", "fraud"],
    )  # fmt: skip
    built = build_node(settings, db=db, clock=clock, migrate=False)
    yield built
    built.close()


def _screen_all(node: Node) -> None:
    while node.screening.work_once("test-worker"):
        pass


def test_three_sybils_sharing_a_device_and_a_funder_are_each_flagged_for_review(
    node: Node, sdk: Any, chain: ChainClient, accounts: list[LocalAccount]
) -> None:
    # Prepare: one wallet funds three fresh accounts with real transactions; an honest contributor
    # (funded by anvil's genesis, no transaction) sends from a phone of its own
    requester, funder, honest = accounts[1], accounts[4], accounts[2]
    sybils = [make_account(0x5B11 + i) for i in range(3)]
    for sybil in sybils:
        chain.send(funder, {"to": sybil.address, "value": 10**16})
    as_requester = sdk(requester)
    task = as_requester.create_task(task_body())
    # Execute: each signs and submits from the same device, then the node screens
    ids = []
    for i, sybil in enumerate(sybils):
        client = sdk(sybil)
        cid = client.upload(f"a photo of a mask, take {i}".encode()).cid
        ids.append(client.submit(task.id, cid, "KE", device_fingerprint="one-phone").id)
    as_honest = sdk(honest)
    honest_id = as_honest.submit(task.id, as_honest.upload(b"an honest photo").cid, "KE",
                                 device_fingerprint="my own phone").id  # fmt: skip
    _screen_all(node)
    # Assert: all three in review, the reasons named where the requester reads the report
    device = "device fingerprint shared with 2 other accounts"
    funded = f"funded by {funder.address} like 2 other contributors"
    for submission_id in ids:
        seen = as_requester.get_submission(submission_id)
        assert seen.state is SubmissionState.IN_REVIEW
        assert seen.details["prescreen"]["reasons"] == [device, funded]
        assert seen.history[-1].reason == f"{device}; {funded}"
    honest_seen = as_requester.get_submission(honest_id)
    assert device not in honest_seen.details["prescreen"]["reasons"]
    assert not any(r.startswith("funded by") for r in honest_seen.details["prescreen"]["reasons"])


def test_a_quota_blocks_the_fourth_submission_past_the_cap_with_a_429_naming_the_limit(
    node: Node, api: TestClient, sdk: Any, accounts: list[LocalAccount]
) -> None:
    # Prepare: a task that takes at most 3 submissions from one contributor
    requester, contributor = accounts[1], accounts[2]
    task = sdk(requester).create_task(task_body(rules={"max_submissions_per_contributor": 3}))
    client = sdk(contributor)
    cids = [client.upload(f"photo {i}".encode()).cid for i in range(4)]
    for cid in cids[:3]:
        client.submit(task.id, cid, "KE")
    # Execute
    fourth = api.post(
        f"/v1/tasks/{task.id}/submissions",
        json=signed_body(client, contributor, task.id, cids[3], task.consent_hash, nonce=4),
        headers=client._auth_headers(),
    )
    # Assert
    assert fourth.status_code == 429, fourth.text
    error = fourth.json()["error"]
    assert (error["code"], error["field"], error["limit"]) == (
        "quota_exceeded",
        "max_submissions_per_contributor",
        3,
    )
    assert len(client.my_submissions(task_id=task.id)) == 3
