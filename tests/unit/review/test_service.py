"""Community review as a service, through the SDK over the real app: queues, votes, consensus, escalation."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from tests.conftest import ManualClock
from tests.unit.review.review_world import STAKE, World

from datacoop.app import Node
from datacoop.client import DataCoopClient
from datacoop.db.models import ReviewAssignment, ReviewVote, SlashingProposal, Validator, ValidatorReward
from datacoop.errors import BadSignature, Conflict, Forbidden, Gone, InvalidInput, NotFound, Unavailable
from datacoop.review.stakes import InMemoryStakes
from datacoop.tasks.states import SubmissionState


@pytest.fixture
def world(
    node: Node, sdk: Any, requester: DataCoopClient, contributor: DataCoopClient, stakes: InMemoryStakes
) -> World:
    return World(node, sdk, requester, contributor, stakes)


def _assignments(node: Node, submission_id: int) -> list[ReviewAssignment]:
    with node.db.transaction() as s:
        rows = s.scalars(
            select(ReviewAssignment)
            .where(ReviewAssignment.submission_id == submission_id)
            .order_by(ReviewAssignment.id)
        ).all()
        s.expunge_all()
        return list(rows)


def _validator_id(node: Node, client: DataCoopClient) -> int:
    with node.db.transaction() as s:
        v = s.scalars(select(Validator)).all()
        return next(x.id for x in v if x.participant.address == client.account.address)  # type: ignore[union-attr]


def test_a_validator_below_the_minimum_stake_is_refused(world: World) -> None:
    poor = world.validator(0x501, stake=STAKE - 1)
    with pytest.raises(Forbidden) as refused:
        poor.next_review()
    assert refused.value.field == "stake"
    assert refused.value.limit == str(STAKE)
    world.stakes.set(poor.account.address, STAKE)  # type: ignore[union-attr]
    assert poor.validator_record().staked


def test_unqualified_validators_get_gold_first_and_qualify(world: World) -> None:
    # Prepare
    task = world.task()
    sid = world.in_review(task, b"a mask photo")
    v = world.validator(0x601)
    # Execute: the real item waits while the newcomer answers gold
    first = v.next_review()
    # Assert
    assert first is not None and first.cid in world.gold_answers
    assert first.task.id == task.id and first.download == f"/v1/reviews/{first.assignment_id}/content"
    v.vote(first, world.gold_answers[first.cid])
    assert not v.validator_record().qualified
    second = v.next_review()
    assert second is not None and second.cid in world.gold_answers and second.cid != first.cid
    v.vote(second, world.gold_answers[second.cid])
    record = v.validator_record()
    assert (record.qualified, record.gold_answered, record.gold_correct) == (True, 2, 2)
    real = world.next_real(v)
    assert real is not None and _assignments(world.node, sid)[0].id == real.assignment_id


def test_an_item_goes_to_k_validators_and_consensus_accepts_it(world: World) -> None:
    # Prepare
    task = world.task(k=3)
    validators = [world.validator(0x700 + i) for i in range(4)]
    world.qualify(*validators)
    sid = world.in_review(task, b"a good mask photo")
    # Execute
    items = {v.account.address: world.next_real(v) for v in validators}  # type: ignore[union-attr]
    served = {a: i for a, i in items.items() if i is not None}
    # Assert: three distinct validators, each once
    assert len(served) == 3
    assigned = _assignments(world.node, sid)
    assert len({a.validator_id for a in assigned}) == 3
    for v in validators:
        item = items[v.account.address]  # type: ignore[union-attr]
        if item is not None:
            v.vote(item, "accept")
    sub = world.contributor.get_submission(sid)
    assert sub.state == "accepted"
    assert sub.history[-1].reason is not None and sub.history[-1].reason.startswith(
        "community review: accept"
    )
    status = world.requester.review_status(sid)
    assert (status.status, status.answer, status.votes, status.decided_by) == (
        "final",
        "accept",
        3,
        "consensus",
    )


def test_the_contributor_never_reviews_their_own_item(world: World, contributor: DataCoopClient) -> None:
    # Prepare: the contributor is also a staked, qualified validator, the only one
    task = world.task(k=1)
    world.stakes.set(contributor.account.address, STAKE)  # type: ignore[union-attr]
    world.qualify(contributor)
    sid = world.in_review(task, b"my own photo")
    # Execute / Assert: nothing is served, nothing is assigned
    assert world.next_real(contributor) is None
    assert _assignments(world.node, sid) == []
    # Even an assignment forced into the database is refused at the vote
    now = world.node.review._clock()
    with world.node.db.transaction() as s:
        forced = ReviewAssignment(
            submission_id=sid,
            validator_id=_validator_id(world.node, contributor),
            kind="normal",
            status="open",
            created_at=now,
            expires_at=now + world.node.review.ttl,
        )
        s.add(forced)
        s.flush()
        forced_id = forced.id
    item = world.contributor.next_review()
    assert item is not None and item.assignment_id == forced_id
    with pytest.raises(Forbidden) as refused:
        contributor.vote(item, "accept")
    assert "your own item" in refused.value.message


def test_a_validator_cannot_vote_twice(world: World) -> None:
    task = world.task(k=3)
    validators = [world.validator(0x800 + i) for i in range(3)]
    world.qualify(*validators)
    world.in_review(task, b"a photo")
    item = world.next_real(validators[0])
    assert item is not None
    validators[0].vote(item, "reject")
    with pytest.raises(Conflict) as again:
        validators[0].vote(item, "accept")
    assert again.value.field == "assignment_id"
    with world.node.db.transaction() as s:
        assert len(s.scalars(select(ReviewVote).where(ReviewVote.kind == "normal")).all()) == 1


def test_an_item_not_assigned_to_you_cannot_be_seen_or_voted(world: World) -> None:
    # Prepare
    task = world.task(k=1)
    holder, other = world.validator(0x901), world.validator(0x902)
    world.qualify(holder)
    world.in_review(task, b"a photo for one")
    item = world.next_real(holder)
    assert item is not None
    world.qualify(other)
    # Execute / Assert: the same 404 for someone else's assignment and for none at all
    assert world.next_real(other) is None
    for assignment_id in (item.assignment_id, 10_000):
        probe = item.model_copy(update={"assignment_id": assignment_id})
        with pytest.raises(NotFound) as hidden:
            other.vote(probe, "accept")
        assert hidden.value.message == f"you have no assignment {assignment_id}"
        with pytest.raises(NotFound):
            other._request("GET", f"/reviews/{assignment_id}/content")


def test_an_assignment_expires_and_is_reassigned(world: World, clock: ManualClock) -> None:
    # Prepare
    task = world.task(k=1)
    slow, quick = world.validator(0xA01), world.validator(0xA02)
    world.qualify(slow, quick)
    sid = world.in_review(task, b"a photo that waits")
    first = world.next_real(slow) or world.next_real(quick)
    assert first is not None
    late = slow if _assignments(world.node, sid)[0].validator_id == _validator_id(world.node, slow) else quick
    other = quick if late is slow else slow
    # Execute
    clock.advance(seconds=world.node.review.ttl.total_seconds() + 1)
    second = world.next_real(other)
    # Assert
    assert second is not None and second.assignment_id != first.assignment_id
    with pytest.raises(Gone) as gone:
        late.vote(first, "accept")
    assert gone.value.field == "assignment_id"
    assert [a.status for a in _assignments(world.node, sid)] == ["expired", "open"]
    assert world.next_real(late) is None  # never the same validator twice on an item


def test_unsure_items_get_more_votes_then_go_to_the_requester(world: World, bob: Any) -> None:
    # Prepare: two validators who always disagree, a cap of 2 votes
    task = world.task(k=2, max_votes=2, threshold=0.99)
    a, b = world.validator(0xB01), world.validator(0xB02)
    world.qualify(a, b)
    sid = world.in_review(task, b"a borderline photo")
    for v, answer in ((a, "accept"), (b, "reject")):
        item = world.next_real(v)
        assert item is not None
        v.vote(item, answer)
    # Assert: escalated, then only the task's requester decides
    assert world.requester.review_status(sid).status == "escalated"
    with pytest.raises(Forbidden):
        world.contributor.decide(sid, "accept")
    decided = world.requester.decide(sid, "reject", "blurry")
    assert (decided.status, decided.answer, decided.decided_by) == ("final", "reject", "requester")
    assert world.contributor.get_submission(sid).history[-1].reason == "requester decided: reject (blurry)"
    with pytest.raises(Conflict):
        world.requester.decide(sid, "accept")


def test_more_votes_are_drawn_while_consensus_is_unsure(world: World) -> None:
    task = world.task(k=2, max_votes=3, threshold=0.99)
    vs = [world.validator(0xC01 + i) for i in range(3)]
    world.qualify(*vs)
    sid = world.in_review(task, b"a hard photo")
    answers = iter(("accept", "reject", "accept"))
    voted = 0
    for _ in range(2):  # ask everyone twice: the third slot opens only after the split
        for v in vs:
            item = world.next_real(v)
            if item is not None:
                v.vote(item, next(answers))
                voted += 1
    assert voted == 3  # k = 2, then one more slot after the split, never more than max_votes
    assert len(_assignments(world.node, sid)) == 3
    assert world.requester.review_status(sid).votes == 3


def test_an_unsure_item_nobody_left_may_review_goes_to_the_requester_before_the_cap(world: World) -> None:
    # Prepare: two validators, a cap of 5 votes the pool can never reach
    task = world.task(k=2, max_votes=5, threshold=0.99)
    a, b = world.validator(0xC11), world.validator(0xC12)
    world.qualify(a, b)
    sid = world.in_review(task, b"a photo nobody agrees on")
    # Execute: they split, so consensus asks for a third vote; the next request for work finds nobody to ask
    for v, answer in ((a, "accept"), (b, "reject")):
        item = world.next_real(v)
        assert item is not None
        v.vote(item, answer)
    assert world.next_real(a) is None
    # Assert: escalated with its two votes, no third slot opened
    status = world.requester.review_status(sid)
    assert (status.status, status.votes) == ("escalated", 2)
    assert len(_assignments(world.node, sid)) == 2


def test_a_validator_who_loses_qualification_hands_back_their_open_items(world: World) -> None:
    # Prepare: gold served before every real item (gold_rate 1), two extra gold items to serve
    task = world.task(k=1, gold_rate=1.0)
    for i in range(2):
        cid = world.requester.upload(b"extra gold %d" % i).cid
        world.requester.add_gold(task.id, cid, "accept")
        world.gold_answers[cid] = "accept"
    a = world.validator(0xC21)
    world.qualify(a)
    sid = world.in_review(task, b"a photo a gets, then loses")
    # Execute: a is assigned the item, served gold first, and answers it wrong (1 of 3 wrong: below 0.8)
    item = a.next_review()
    assert item is not None and item.cid in world.gold_answers
    [held] = _assignments(world.node, sid)
    assert held.status == "open"
    a.vote(item, "reject" if world.gold_answers[item.cid] == "accept" else "accept")
    # Assert: a no longer counts, and their slot on the item is free for someone else
    assert not a.validator_record().qualified
    [released] = _assignments(world.node, sid)
    assert released.status == "expired"
    b = world.validator(0xC22)
    world.qualify(b)
    b.next_review()
    statuses = [(x.validator_id, x.status) for x in _assignments(world.node, sid)]
    assert statuses == [(held.validator_id, "expired"), (_validator_id(world.node, b), "open")]


def test_bad_signature_and_unknown_labels_are_refused(world: World) -> None:
    task = world.task(k=1, labels=["mask", "no-mask"])
    v = world.validator(0xD01)
    world.qualify(v)
    world.in_review(task, b"a labelled photo")
    item = world.next_real(v)
    assert item is not None
    with pytest.raises(InvalidInput) as bad_label:
        v.vote(item, "accept", ["mask", "cat"])
    assert bad_label.value.field == "labels.1"
    assert bad_label.value.limit == ["mask", "no-mask"]
    forged = v._request  # a signature over other content: sign "reject", send "accept"
    from datacoop.identity.eip712 import VoteMessage, sign_typed

    message = VoteMessage(validator=v.account.address, task_id=task.id, assignment_id=item.assignment_id,  # type: ignore[union-attr]
                          decision="reject", labels="[]", nonce=1)  # fmt: skip
    signature = sign_typed(v.account.key, message.to_typed_data(v.eip712_domain()))  # type: ignore[union-attr]
    with pytest.raises(BadSignature):
        forged("POST", f"/reviews/{item.assignment_id}/vote",
               json={"decision": "accept", "labels": [], "nonce": 1, "signature": signature})  # fmt: skip
    assert v.vote(item, "accept", ["mask"]).labels == ["mask"]


def test_accounts_linked_to_the_contributor_are_not_drawn(world: World, contributor: DataCoopClient) -> None:
    # Prepare: a validator who submitted the very same file as the contributor (a shared-content link)
    task = world.task(k=1)
    friend, stranger = world.validator(0xE01), world.validator(0xE02)
    world.qualify(friend, stranger)
    friend.submit(task.id, friend.upload(b"the same photo").cid, "KE")
    sid = world.in_review(task, b"the same photo")
    # Execute / Assert
    assert world.next_real(friend) is None
    assert world.next_real(stranger) is not None
    assert [a.validator_id for a in _assignments(world.node, sid)] == [_validator_id(world.node, stranger)]


def test_gold_mixed_in_at_the_task_rate_looks_like_a_real_item(world: World) -> None:
    task = world.task(k=1, gold_rate=1.0)
    v = world.validator(0xF01)
    world.qualify(v)  # answers both gold items: none left to mix in
    gold_cid = world.requester.upload(b"one more gold item").cid
    world.requester.add_gold(task.id, gold_cid, "accept")
    world.in_review(task, b"a real photo")
    mixed = v.next_review()
    assert mixed is not None and mixed.cid == gold_cid
    v.vote(mixed, "accept")
    real = v.next_review()
    assert real is not None and real.cid != gold_cid
    assert set(mixed.model_dump()) == set(real.model_dump())
    assert v.validator_record().gold_answered == 3


def test_bad_gold_accuracy_excludes_and_proposes_slashing(world: World) -> None:
    task = world.task(k=1)
    for i in range(3):
        cid = world.requester.upload(b"extra gold %d" % i).cid
        world.requester.add_gold(task.id, cid, "accept")
        world.gold_answers[cid] = "accept"
    careless = world.validator(0xF02)
    for _ in range(4):  # exclude_after = 4: every answer wrong
        item = careless.next_review()
        assert item is not None
        careless.vote(item, "reject" if world.gold_answers[item.cid] == "accept" else "accept")
    with pytest.raises(Forbidden) as excluded:
        careless.next_review()
    assert excluded.value.field == "validator"
    with world.node.db.transaction() as s:
        proposal = s.scalars(select(SlashingProposal)).one()
        assert proposal.status == "proposed" and "gold accuracy 0.00 after 4" in proposal.reason
        assert proposal.reason_hash.startswith("0x") and len(proposal.reason_hash) == 66
    # Without a chain nothing is recorded or slashed: the proposal waits, the follower's step is a no-op
    with pytest.raises(Unavailable) as no_chain:
        world.node.review.slashing.execute(proposal.id)
    assert no_chain.value.field == "chain"
    assert not world.node.review.slashing.sync()
    [listed] = world.node.review.slashing.list()
    assert (listed.status, listed.tx_hash) == ("proposed", None)


def test_useful_votes_are_ledgered_for_settlement(world: World) -> None:
    task = world.task(k=3, validator_reward=7)
    vs = [world.validator(0xF10 + i) for i in range(3)]
    world.qualify(*vs)
    sid = world.in_review(task, b"a reward photo")
    answers = {}
    for v, answer in zip(vs, ("accept", "accept", "accept"), strict=True):
        item = world.next_real(v)
        assert item is not None
        answers[v.account.address] = v.vote(item, answer)  # type: ignore[union-attr]
    assert world.contributor.get_submission(sid).state == "accepted"
    with world.node.db.transaction() as s:
        due = world.node.review.vote_rewards(s, task.id)
        assert sorted(r.validator for r in due) == sorted(answers)
        assert {r.amount for r in due} == {7}
        assert len(s.scalars(select(ValidatorReward)).all()) == 3


def test_the_uploader_of_a_contributors_file_is_linked(world: World, contributor: DataCoopClient) -> None:
    # Prepare: the validator uploaded the blob the contributor then submitted
    task = world.task(k=1)
    uploader, stranger = world.validator(0xE11), world.validator(0xE12)
    world.qualify(uploader, stranger)
    cid = uploader.upload(b"a photo handed over").cid
    sid = contributor.submit(task.id, cid, "KE").id
    world.node.submissions.transition(sid, SubmissionState.SCREENING)
    world.node.submissions.transition(sid, SubmissionState.IN_REVIEW)
    # Execute / Assert
    assert world.next_real(uploader) is None
    assert world.next_real(stranger) is not None


def test_an_account_that_submitted_from_the_contributors_device_is_linked(
    world: World, contributor: DataCoopClient
) -> None:
    # Prepare: the validator once submitted from the phone the contributor now submits from
    task = world.task(k=1)
    same_phone, stranger = world.validator(0xE21), world.validator(0xE22)
    world.qualify(same_phone, stranger)
    same_phone.submit(task.id, same_phone.upload(b"its own photo").cid, "KE", device_fingerprint="phone-1")
    sid = contributor.submit(
        task.id, contributor.upload(b"a photo").cid, "KE", device_fingerprint="phone-1"
    ).id
    world.node.submissions.transition(sid, SubmissionState.SCREENING)
    world.node.submissions.transition(sid, SubmissionState.IN_REVIEW)
    # Execute / Assert
    assert world.next_real(same_phone) is None
    assert world.next_real(stranger) is not None
