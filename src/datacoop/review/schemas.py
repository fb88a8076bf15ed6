"""Review as the API and the SDK see it: items, votes, gold, appeals, status."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from datacoop.schemas import EcdsaSignature, Uint256, _Model
from datacoop.screening.schemas import PrescreenReport, Verdict
from datacoop.tasks.schemas import TaskPublic

__all__ = [
    "AppealCreate",
    "AppealPublic",
    "GoldItemCreate",
    "GoldItemPublic",
    "RequesterDecision",
    "ReviewItem",
    "ReviewStatus",
    "ValidatorPublic",
    "VoteCreate",
    "VotePublic",
]


class ReviewItem(_Model):
    """One item in a validator's queue; real and gold items look exactly alike."""

    assignment_id: int
    task: TaskPublic
    cid: str
    download: str = Field(description="path that serves the item's bytes to the assigned validator")
    prescreen: PrescreenReport
    expires_at: datetime


class VoteCreate(_Model):
    """A validator's EIP-712 ``Vote``; the assignment id is in the path."""

    decision: Verdict
    labels: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=50
    )
    nonce: Uint256
    signature: EcdsaSignature


class VotePublic(_Model):
    id: int
    assignment_id: int
    decision: Verdict
    labels: list[str]
    digest: str
    created_at: datetime


class GoldItemCreate(_Model):
    """A requester's item with a known answer (the blob is uploaded first)."""

    cid: str = Field(min_length=1, max_length=100)
    answer: Verdict
    report: PrescreenReport = Field(default_factory=PrescreenReport)


class GoldItemPublic(_Model):
    id: int
    task_id: int
    cid: str
    answer: Verdict
    created_at: datetime


class AppealCreate(_Model):
    """A contributor's EIP-712 ``Appeal`` of a rejection; the submission id is in the path."""

    reason: str = Field(min_length=1, max_length=2000)
    nonce: Uint256
    signature: EcdsaSignature


class AppealPublic(_Model):
    submission_id: int
    status: Literal["open", "final"]
    outcome: Verdict | None
    jury: list[str] = Field(description="the jurors' addresses: shown once the appeal is final")
    jury_size: int = Field(default=0, description="how many jurors were drawn so far")
    reason: str
    created_at: datetime
    decided_at: datetime | None


class RequesterDecision(_Model):
    """The requester's call on an item the validators could not settle."""

    decision: Verdict
    reason: str = Field(default="", max_length=2000)


class ReviewStatus(_Model):
    """Where an item's community review stands."""

    submission_id: int
    status: Literal["open", "final", "escalated"]
    answer: Verdict | None
    posterior: float | None
    votes: int
    decided_by: str | None


class ValidatorPublic(_Model):
    address: str
    staked: bool
    qualified: bool
    excluded: bool
    reputation: float
    gold_answered: int
    gold_correct: int
