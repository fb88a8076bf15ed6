"""The review rules on their own: eligibility, the weighted draw, juries, reputation, labels."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from datacoop.errors import InvalidInput, Unprocessable
from datacoop.review.rules import (
    Candidate,
    Qualification,
    ReviewAnswer,
    appeal_verdict,
    check_labels,
    eligible,
    jury_size,
    reputation,
    should_exclude,
    slots_wanted,
    weighted_draw,
)

POOL = [Candidate(validator_id=i, participant_id=100 + i, reputation=0.5) for i in range(6)]


def test_eligible_drops_the_contributor_linked_accounts_and_anyone_who_saw_the_item() -> None:
    kept = eligible(POOL, contributor=100, requester=999, linked={101}, seen={2})
    assert [c.validator_id for c in kept] == [3, 4, 5]


def test_eligible_drops_the_tasks_requester() -> None:
    kept = eligible(POOL, contributor=100, requester=103, linked=set(), seen=set())
    assert [c.validator_id for c in kept] == [1, 2, 4, 5]


def test_the_draw_is_distinct_and_never_larger_than_the_pool() -> None:
    rng = random.Random(1)
    for n in range(8):
        drawn = weighted_draw(POOL, n, rng)
        assert len(drawn) == min(n, len(POOL))
        assert len({c.validator_id for c in drawn}) == len(drawn)


def test_the_draw_follows_reputation() -> None:
    # one heavy validator (0.9) among five light ones (0.1 each): drawn about 0.9 / 1.4 of the time
    pool = [Candidate(0, 100, 0.9), *(Candidate(i, 100 + i, 0.1) for i in range(1, 6))]
    rng = random.Random(7)
    counts = Counter(weighted_draw(pool, 1, rng)[0].validator_id for _ in range(4000))
    share = counts[0] / 4000
    assert 0.6 < share < 0.68  # expected 0.643
    assert all(counts[i] > 0 for i in range(1, 6))  # light validators are still drawn


def test_appeal_juries_are_odd_and_decide_by_majority() -> None:
    assert [jury_size(k) for k in (1, 3)] == [3, 7]
    accept, reject = ReviewAnswer.ACCEPT, ReviewAnswer.REJECT
    assert appeal_verdict([accept, reject], 3) is None
    assert appeal_verdict([accept, reject, accept], 3) is accept
    assert appeal_verdict([reject, reject], 3) is reject  # the third juror cannot change it


def test_slots_wanted_is_k_then_one_more_up_to_the_cap() -> None:
    assert [slots_wanted(k=3, votes=v, max_votes=5) for v in range(7)] == [3, 3, 3, 4, 5, 5, 6]


def test_qualification_and_exclusion() -> None:
    rules = Qualification(gold_needed=5, min_accuracy=0.8, exclude_after=10, exclude_below=0.6)
    assert not rules.qualified(4, 4)
    assert rules.qualified(5, 4)
    assert not rules.qualified(5, 3)
    assert not should_exclude(9, 0, rules)
    assert should_exclude(10, 5, rules)
    assert not should_exclude(10, 6, rules)


def test_reputation_starts_even_and_stays_inside_zero_one() -> None:
    assert reputation(0, 0, 0, 0) == 0.5
    assert 0 < reputation(100, 0, 100, 0) < 0.01
    assert 0.99 < reputation(100, 100, 100, 100) < 1
    assert reputation(10, 9, 0, 0) > reputation(10, 6, 0, 0)


def test_labels_outside_the_task_set_are_named() -> None:
    assert check_labels(["n95", "mask"], {"mask", "n95"}) == ["n95", "mask"]
    with pytest.raises(Unprocessable) as twice:  # dropping one would verify a list nobody signed
        check_labels(["mask", "mask", "n95"], {"mask", "n95"})
    assert twice.value.field == "labels.1"
    with pytest.raises(InvalidInput) as bad:
        check_labels(["mask", "cat"], {"mask", "n95"})
    assert bad.value.field == "labels.1"
    assert bad.value.limit == ["mask", "n95"]
    assert "'cat' is not one of this task's labels: mask, n95" in bad.value.message


def test_votes_and_appeals_are_signed_eip712_messages_bound_to_their_signer() -> None:
    from eth_account import Account

    from datacoop.errors import BadSignature
    from datacoop.identity.eip712 import AppealMessage, Eip712Domain, VoteMessage, sign_typed, verify_signer

    domain = Eip712Domain(chain_id=31337, verifying_contract="0x" + "12" * 20)
    validator, other = Account.from_key(b"\x01" * 32), Account.from_key(b"\x02" * 32)
    vote = VoteMessage(validator=validator.address, task_id=1, assignment_id=9, decision="accept",
                       labels='["mask"]', nonce=5)  # fmt: skip
    signature = sign_typed(validator.key, vote.to_typed_data(domain))
    digest = verify_signer(domain, vote, signature, expected_signer=validator.address)
    assert digest.startswith("0x") and len(digest) == 66
    with pytest.raises(BadSignature):
        verify_signer(domain, vote, signature, expected_signer=other.address)
    other_domain = Eip712Domain(chain_id=1, verifying_contract="0x" + "12" * 20)
    with pytest.raises(BadSignature):  # replayed on another chain: recovers someone else
        verify_signer(other_domain, vote, signature, expected_signer=validator.address)
    appeal = AppealMessage(contributor=other.address, submission_id=3, reason="look again", nonce=1)
    assert verify_signer(domain, appeal, sign_typed(other.key, appeal.to_typed_data(domain)),
                         expected_signer=other.address) != digest  # fmt: skip
