"""From votes to outcomes: consensus per task, final moves, gold records, reputation, rewards, slashing.

Runs inside the caller's transaction, right after a vote is written.
"""

from __future__ import annotations

from collections.abc import Hashable
from datetime import datetime

from eth_utils.crypto import keccak
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from datacoop.db.models import (
    Appeal,
    GoldItem,
    ReviewAssignment,
    ReviewOutcome,
    ReviewVote,
    SlashingProposal,
    Submission,
    Validator,
    ValidatorReward,
)
from datacoop.review import consensus
from datacoop.review.draws import close_open, review_rules
from datacoop.review.rules import (
    AssignmentKind,
    AssignmentStatus,
    Qualification,
    ReviewAnswer,
    appeal_verdict,
    gold_accuracy,
    jury_size,
    reputation,
    should_exclude,
)
from datacoop.tasks.states import SubmissionState
from datacoop.tasks.transitions import move

__all__ = ["finalize", "judge", "outcome_of", "record_gold", "settle_appeal"]


def outcome_of(s: Session, submission_id: int, now: datetime) -> ReviewOutcome:
    row = s.get(ReviewOutcome, submission_id)
    if row is None:
        row = ReviewOutcome(submission_id=submission_id, status="open", votes=0, updated_at=now)
        s.add(row)
    return row


def _task_votes(s: Session, task_id: int) -> tuple[list[consensus.Vote], dict[Hashable, int]]:
    """The task's votes by qualified validators (real items and gold), and the gold answers."""
    real = s.execute(
        select(ReviewVote.submission_id, ReviewVote.validator_id, ReviewVote.decision)
        .join(Validator, Validator.id == ReviewVote.validator_id)
        .join(Submission, Submission.id == ReviewVote.submission_id)
        .where(
            Submission.task_id == task_id, ReviewVote.kind == AssignmentKind.NORMAL.value, Validator.qualified
        )
    ).all()
    gold = s.execute(
        select(ReviewVote.gold_item_id, ReviewVote.validator_id, ReviewVote.decision, GoldItem.answer)
        .join(Validator, Validator.id == ReviewVote.validator_id)
        .join(GoldItem, GoldItem.id == ReviewVote.gold_item_id)
        .where(GoldItem.task_id == task_id, Validator.qualified)
    ).all()
    votes = [consensus.Vote(("s", sid), vid, ReviewAnswer(d).klass) for sid, vid, d in real]
    votes += [consensus.Vote(("g", gid), vid, ReviewAnswer(d).klass) for gid, vid, d, _ in gold]
    return votes, {("g", gid): ReviewAnswer(answer).klass for gid, _, _, answer in gold}


def _qualified_votes(s: Session, submission_id: int) -> int:
    """How many of an item's votes the aggregation counts: normal votes by qualified validators."""
    counted = s.scalar(
        select(func.count())
        .select_from(ReviewVote)
        .join(Validator, Validator.id == ReviewVote.validator_id)
        .where(
            ReviewVote.submission_id == submission_id,
            ReviewVote.kind == AssignmentKind.NORMAL.value,
            Validator.qualified,
        )
    )
    return int(counted or 0)


def judge(s: Session, sub: Submission, now: datetime) -> consensus.Decision | None:
    """Aggregate the task's votes (Dawid–Skene) and act on this item's posterior; None below k votes.

    Below k votes nothing can be decided, so the task-wide aggregation is not run: the outcome
    records the item's vote count, and its posterior is first computed with the k-th vote.
    """
    rules = review_rules(sub)
    outcome = outcome_of(s, sub.id, now)
    counted = _qualified_votes(s, sub.id)
    if counted < rules.k:
        if counted:
            outcome.votes, outcome.updated_at = counted, now
        return None
    votes, gold = _task_votes(s, sub.task_id)
    posterior = consensus.dawid_skene(votes, gold=gold).items.get(("s", sub.id))
    if posterior is None:
        return None
    outcome.votes, outcome.posterior, outcome.updated_at = posterior.votes, posterior.posterior, now
    if posterior.votes < rules.k:
        return None
    decision = consensus.decide(posterior, threshold=rules.threshold, max_votes=rules.max_votes)
    answer = ReviewAnswer.of_index(posterior.answer)
    if decision is consensus.Decision.FINAL:
        reason = f"community review: {answer} (posterior {posterior.posterior:.3f}, {posterior.votes} votes)"
        finalize(s, sub, answer, now, by="consensus", reason=reason)
    elif decision is consensus.Decision.ESCALATE:
        outcome.status = "escalated"
        close_open(s, sub.id)
    return decision


def finalize(
    s: Session, sub: Submission, answer: ReviewAnswer, now: datetime, *, by: str, reason: str
) -> None:
    """Move the item to its final state, record the outcome, and credit the votes that agreed."""
    to = SubmissionState.ACCEPTED if answer is ReviewAnswer.ACCEPT else SubmissionState.REJECTED
    move(s, sub, to, reason, now)
    outcome = outcome_of(s, sub.id, now)
    outcome.status, outcome.answer, outcome.decided_by, outcome.updated_at = "final", answer.value, by, now
    close_open(s, sub.id)
    kind = AssignmentKind.APPEAL if by == "appeal" else AssignmentKind.NORMAL
    _credit(s, sub, answer, kind, now)


def _credit(s: Session, sub: Submission, answer: ReviewAnswer, kind: AssignmentKind, now: datetime) -> None:
    amount = review_rules(sub).validator_reward
    votes = s.scalars(
        select(ReviewVote).where(ReviewVote.submission_id == sub.id, ReviewVote.kind == kind.value)
    ).all()
    for vote in votes:
        validator = s.get(Validator, vote.validator_id)
        assert validator is not None
        agreed = vote.decision == answer.value
        validator.decided_votes += 1
        validator.agreed_votes += int(agreed)
        _rescore(validator, now)
        if agreed and amount > 0 and s.get(ValidatorReward, vote.id) is None:
            s.add(
                ValidatorReward(
                    vote_id=vote.id,
                    task_id=sub.task_id,
                    validator=validator.participant.address,
                    amount=amount,
                    created_at=now,
                )
            )


def _rescore(v: Validator, now: datetime) -> None:
    v.reputation = reputation(v.gold_answered, v.gold_correct, v.decided_votes, v.agreed_votes)
    v.updated_at = now


def record_gold(s: Session, v: Validator, correct: bool, rules: Qualification, now: datetime) -> None:
    """A gold answer: accuracy, qualification, reputation; below the floor, excluded, slashing proposed."""
    was_qualified = v.qualified
    v.gold_answered += 1
    v.gold_correct += int(correct)
    v.qualified = rules.qualified(v.gold_answered, v.gold_correct)
    _rescore(v, now)
    if was_qualified and not v.qualified:  # their votes stop counting: others take their open items now
        _release(s, v, (AssignmentKind.NORMAL, AssignmentKind.APPEAL))
    if v.excluded or not should_exclude(v.gold_answered, v.gold_correct, rules):
        return
    v.excluded = True
    _release(s, v, tuple(AssignmentKind))
    accuracy = gold_accuracy(v.gold_answered, v.gold_correct) or 0.0
    reason = (
        f"validator {v.participant.address}: gold accuracy {accuracy:.2f} after {v.gold_answered} "
        f"gold items, below the floor {rules.exclude_below:.2f}"
    )
    s.add(
        SlashingProposal(
            validator_id=v.id,
            reason=reason,
            reason_hash="0x" + keccak(text=reason).hex(),
            status="proposed",
            tx_key=None,
            created_at=now,
            updated_at=now,
        )
    )


def _release(s: Session, v: Validator, kinds: tuple[AssignmentKind, ...]) -> None:
    """The validator's open assignments of these kinds expire; the next fill draws someone else."""
    s.execute(
        update(ReviewAssignment)
        .where(
            ReviewAssignment.validator_id == v.id,
            ReviewAssignment.status == AssignmentStatus.OPEN.value,
            ReviewAssignment.kind.in_([k.value for k in kinds]),
        )
        .values(status=AssignmentStatus.EXPIRED.value)
    )


def settle_appeal(s: Session, sub: Submission, appeal: Appeal, now: datetime) -> ReviewAnswer | None:
    """Once a majority of the jury agrees: the final, recorded outcome of the appeal."""
    size = jury_size(review_rules(sub).k)
    answers = [
        ReviewAnswer(d)
        for d in s.scalars(
            select(ReviewVote.decision).where(
                ReviewVote.submission_id == sub.id, ReviewVote.kind == AssignmentKind.APPEAL.value
            )
        )
    ]
    verdict = appeal_verdict(answers, size)
    if verdict is None:
        return None
    agreeing = sum(1 for a in answers if a is verdict)
    reason = f"appeal: {verdict} by a jury of {size} ({agreeing} of {len(answers)} votes)"
    finalize(s, sub, verdict, now, by="appeal", reason=reason)
    appeal.status, appeal.outcome, appeal.decided_at = "final", verdict.value, now
    return verdict
