"""A small review world for the review tests: a requester, a contributor, staked validators, gold items."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eth_account.signers.local import LocalAccount
from tests.conftest import make_account
from tests.unit.api.conftest import task_body

from datacoop.app import Node
from datacoop.client import DataCoopClient
from datacoop.review.rules import Qualification
from datacoop.review.schemas import ReviewItem
from datacoop.review.stakes import InMemoryStakes
from datacoop.tasks.schemas import TaskPublic
from datacoop.tasks.states import SubmissionState

STAKE = 10**18
GOLD = {b"gold: a clear mask photo": "accept", b"gold: a photo of a cat": "reject"}


class World:
    def __init__(
        self,
        node: Node,
        sdk: Callable[[LocalAccount], DataCoopClient],
        requester: DataCoopClient,
        contributor: DataCoopClient,
        stakes: InMemoryStakes,
    ) -> None:
        self.node, self.sdk, self.requester, self.contributor, self.stakes = (
            node, sdk, requester, contributor, stakes,
        )  # fmt: skip
        node.review.min_stake = STAKE
        node.review.qualification = Qualification(gold_needed=2, min_accuracy=0.8, exclude_after=4,
                                                  exclude_below=0.6)  # fmt: skip
        self.gold_answers: dict[str, str] = {}

    def validator(self, seed: int, *, stake: int = STAKE) -> DataCoopClient:
        account = make_account(seed)
        self.stakes.set(account.address, stake)
        return self.sdk(account)

    def task(self, **review: Any) -> TaskPublic:
        rules = {"review": {"gold_rate": 0.0, "threshold": 0.9, **review}}
        task = self.requester.create_task(task_body(rules=rules))
        for data, answer in GOLD.items():
            cid = self.requester.upload(data + str(task.id).encode()).cid
            self.requester.add_gold(task.id, cid, answer)
            self.gold_answers[cid] = answer
        return task

    def in_review(self, task: TaskPublic, data: bytes, who: DataCoopClient | None = None) -> int:
        """A submission that passed pre-screening into review (moved through the service's state machine)."""
        client = who or self.contributor
        sid = client.submit(task.id, client.upload(data).cid, "KE").id
        self.node.submissions.transition(sid, SubmissionState.SCREENING, reason="test")
        self.node.submissions.transition(sid, SubmissionState.IN_REVIEW, reason="test")
        return sid

    def qualify(self, *validators: DataCoopClient) -> None:
        """Each answers the gold items it is served, correctly, until qualified."""
        for v in validators:
            for _ in range(len(GOLD)):
                item = v.next_review()
                assert item is not None and item.cid in self.gold_answers, item
                v.vote(item, self.gold_answers[item.cid])
            assert v.validator_record().qualified

    def next_real(self, v: DataCoopClient) -> ReviewItem | None:
        item = v.next_review()
        assert item is None or item.cid not in self.gold_answers
        return item
