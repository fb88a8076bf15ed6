"""SybilSignals: a device fingerprint shared by accounts, or one funder behind a task's contributors.

And the fraud stage sends such an item to review with those reasons first, whatever the forest says.
"""

from __future__ import annotations

from typing import Any

import pytest
from tests.conftest import make_account
from tests.unit.api.conftest import task_body
from tests.unit.chain.test_funders import BlocksInMemory

from datacoop.app import Node
from datacoop.chain.funders import FunderLookup
from datacoop.client import DataCoopClient
from datacoop.db.models import Submission
from datacoop.screening.base import ItemContext, StageResult, TaskView, Verdict
from datacoop.screening.stages.fraud import FraudStage
from datacoop.screening.sybil import SybilSignals
from datacoop.tasks.rules import Modality
from datacoop.tasks.schemas import TaskPublic

FUNDER, OTHER_FUNDER = make_account(0xF00D).address, make_account(0xFEED).address


def _contribute(sdk: Any, seed: int, task: TaskPublic, device: str | None = None) -> int:
    client: DataCoopClient = sdk(make_account(seed))
    cid = client.upload(f"item of {seed}".encode()).cid
    return client.submit(task.id, cid, "KE", device_fingerprint=device).id


def _funded(*pairs: tuple[str, int]) -> BlocksInMemory:
    chain = BlocksInMemory()
    for funder, seed in pairs:
        chain.mine((funder, make_account(seed).address, 10**17))
    return chain


def test_a_fingerprint_sent_by_three_accounts_flags_each(node: Node, sdk: Any, task: TaskPublic) -> None:
    # Prepare
    ids = [_contribute(sdk, seed, task, device="pixel-7-abc") for seed in (1, 2, 3)]
    alone = _contribute(sdk, 4, task, device="another phone")
    unsent = _contribute(sdk, 5, task)
    signals = SybilSignals(node.db)
    # Execute / Assert
    assert [signals(i) for i in ids] == [["device fingerprint shared with 2 other accounts"]] * 3
    assert signals(alone) == [] and signals(unsent) == []


def test_two_accounts_on_one_device_are_ordinary(node: Node, sdk: Any, task: TaskPublic) -> None:
    ids = [_contribute(sdk, seed, task, device="the family tablet") for seed in (1, 2)]
    assert [SybilSignals(node.db)(i) for i in ids] == [[], []]
    assert SybilSignals(node.db, device_shared_with=1)(ids[0]) == [
        "device fingerprint shared with 1 other account"
    ]


def test_only_the_hash_of_a_fingerprint_is_stored(node: Node, sdk: Any, task: TaskPublic) -> None:
    submission_id = _contribute(sdk, 1, task, device="pixel-7-abc")
    with node.db.transaction() as s:
        row = s.get(Submission, submission_id)
        assert row is not None and row.device_hash is not None
        assert len(row.device_hash) == 64 and "pixel" not in row.device_hash


def test_three_contributors_funded_by_one_address_are_flagged(
    node: Node, sdk: Any, task: TaskPublic, requester: DataCoopClient
) -> None:
    # Prepare: 1, 2 and 3 funded by FUNDER; 4 by another; 5 by FUNDER but in another task
    ids = [_contribute(sdk, seed, task) for seed in (1, 2, 3, 4)]
    elsewhere = _contribute(sdk, 5, requester.create_task(task_body(title="Another task")))
    chain = _funded((FUNDER, 1), (FUNDER, 2), (OTHER_FUNDER, 4), (FUNDER, 3), (FUNDER, 5))
    signals = SybilSignals(node.db, FunderLookup(node.db, chain))
    # Execute: the first screened already sees the others (their funders are looked up with it)
    flagged = [signals(i) for i in ids]
    # Assert
    assert flagged == [[f"funded by {FUNDER} like 2 other contributors"]] * 3 + [[]]
    assert signals(elsewhere) == []


def test_an_exempt_funder_links_nobody(node: Node, sdk: Any, task: TaskPublic) -> None:
    ids = [_contribute(sdk, seed, task) for seed in (1, 2, 3)]
    chain = _funded((FUNDER, 1), (FUNDER, 2), (FUNDER, 3))
    signals = SybilSignals(node.db, FunderLookup(node.db, chain), exempt=[FUNDER.lower()])
    assert [signals(i) for i in ids] == [[], [], []]


class _Linked:
    def __init__(self, reasons: list[str]) -> None:
        self.reasons = reasons

    def __call__(self, submission_id: int) -> list[str]:
        return self.reasons


@pytest.mark.parametrize(
    ("links", "verdict", "reasons"),
    [
        ([], Verdict.SKIPPED, ("account signals are not available on this node",)),
        (["device fingerprint shared with 2 other accounts"], Verdict.UNSURE,
         ("device fingerprint shared with 2 other accounts",)),
    ],
)  # fmt: skip
def test_the_fraud_stage_sends_linked_accounts_to_review(
    links: list[str], verdict: Verdict, reasons: tuple[str, ...]
) -> None:
    item = ItemContext(7, "bafy", 1, "0xabc", lambda: b"", lambda _: "")
    task = TaskView(1, Modality.IMAGE, "t", "d", {})
    result: StageResult = FraudStage(None, _Linked(links)).run(item, task)
    assert (result.verdict, result.reasons) == (verdict, reasons)
