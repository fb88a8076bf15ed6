"""The demo's simulated people answer with their stated accuracy; none of them reads the truth."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest

from datacoop.demo.people import REQUESTER_ACCURACY, VALIDATORS, _answer, _Validator, _vote_until_done


@pytest.mark.parametrize("accuracy", [0.6, REQUESTER_ACCURACY, 1.0])
def test_an_answer_is_right_as_often_as_the_stated_accuracy(accuracy: float) -> None:
    rng = random.Random(1)
    truths = [rng.choice(("accept", "reject")) for _ in range(4000)]
    right = sum(_answer(truth, accuracy, rng) == truth for truth in truths) / len(truths)
    assert abs(right - accuracy) < 0.025
    assert {_answer("accept", 0.0, rng), _answer("reject", 0.0, rng)} == {"reject", "accept"}


def test_the_requester_is_no_oracle_and_the_pool_outnumbers_the_first_votes() -> None:
    assert 0.5 < REQUESTER_ACCURACY < 1.0
    careful = sum(n for accuracy, n in VALIDATORS if accuracy >= 0.9)
    assert careful > 3  # k = 3 careful validators can be drawn and more remain for an unsure item


@dataclass
class _Item:
    cid: str


@dataclass
class _Queue:
    """A stand-in for a validator's SDK client: items appear in its queue when the test says so."""

    items: list[_Item] = field(default_factory=list)
    voted: list[tuple[str, str]] = field(default_factory=list)
    on_vote: list[tuple[_Queue, _Item]] = field(default_factory=list)

    def next_review(self) -> _Item | None:
        return self.items.pop(0) if self.items else None

    def vote(self, item: _Item, answer: str) -> None:
        self.voted.append((item.cid, answer))
        for other, extra in self.on_vote:  # consensus asks someone else for another vote
            other.items.append(extra)
        self.on_vote.clear()


def test_voting_goes_on_until_a_whole_round_serves_nobody() -> None:
    # Prepare: the first validator has nothing at first; the second's vote puts an item in the first's queue
    first, second = _Queue(), _Queue(items=[_Item("cid-1")])
    second.on_vote.append((first, _Item("cid-1")))
    validators = [_Validator(first, 1.0), _Validator(second, 1.0)]  # type: ignore[arg-type]
    # Execute
    _vote_until_done(validators, {"cid-1": "accept"}, {}, random.Random(0))
    # Assert: the first validator, served nothing in round one, still voted on the item later
    assert first.voted == [("cid-1", "accept")] and second.voted == [("cid-1", "accept")]
    assert [v.votes for v in validators] == [1, 1]
