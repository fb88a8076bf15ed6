"""The shapes DataCoop's services take and return, shared by the API, the CLI and the SDK.

One family per concept (``XCreate`` in, ``XPublic`` out). Field constraints here
are the limits users meet: a pydantic error names the field and the limit, and
the API turns it into ``{"error": {"code", "message", "field"}}``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from datacoop.domain.submissions import SubmissionState
from datacoop.domain.tasks import Modality, TaskStatus

__all__ = [
    "MAX_BIGINT",
    "MAX_ID",
    "UINT256_END",
    "AcceptanceRules",
    "AppealCreate",
    "AppealPublic",
    "BlobPublic",
    "GoldItemCreate",
    "GoldItemPublic",
    "IsoDate",
    "IsoDateTime",
    "NoncePublic",
    "PrescreenReport",
    "RequesterDecision",
    "ReviewItem",
    "ReviewRules",
    "ReviewStatus",
    "RowId",
    "SessionPublic",
    "SignIn",
    "StateChange",
    "SubmissionCreate",
    "SubmissionPublic",
    "TaskCreate",
    "TaskPublic",
    "ValidatorPublic",
    "VoteCreate",
    "VotePublic",
]

MAX_ID = 2**31 - 1
"""The largest row id: keys are PostgreSQL ``INTEGER`` columns (signed 32-bit; SQLite's are wider)."""
MAX_BIGINT = 2**63 - 1
"""The largest offset, count or time in seconds: a signed 64-bit integer."""
UINT256_END = 2**256


def _as_text(value: object) -> object:
    """Times in a request are ISO 8601 text, as the schema says (pydantic reads a number as unix time)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("write it as ISO 8601 text (e.g. 2027-01-31 or 2027-01-31T00:00:00Z), not a number")
    return value


IsoDateTime = Annotated[datetime, BeforeValidator(_as_text)]
"""A date and time in a request body: ISO 8601 text only."""
IsoDate = Annotated[date, BeforeValidator(_as_text)]
"""A date in a request body: YYYY-MM-DD only."""
RowId = Annotated[int, Field(ge=1, le=MAX_ID, description="a row id, 1 to 2**31-1")]
Uint256 = Annotated[int, Field(ge=0, lt=UINT256_END)]
Hex32 = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{64}$", description="0x-prefixed 32-byte hex")]
EcdsaSignature = Annotated[
    str,
    Field(
        pattern=r"^0x[0-9a-fA-F]{128}(0[01]|1[bcBC])$",
        description="65 bytes r‖s‖v as 0x-hex, v 27 or 28 (0 or 1 accepted)",
    ),
]
IMAGE_FORMATS = ("jpeg", "png", "webp", "gif", "tiff", "bmp")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- identity ---------------------------------------------------------------------------------


class NoncePublic(_Model):
    nonce: str
    expires_at: datetime
    domain: str
    chain_id: int
    uri: str


class SignIn(_Model):
    message: str = Field(min_length=1, max_length=1024, description="the EIP-4361 message text")
    signature: str = Field(
        min_length=4,
        max_length=300,
        pattern=r"^0x([0-9a-fA-F]{2})+$",
        description="0x-hex; a key's or an ERC-1271 wallet's",
    )


class SessionPublic(_Model):
    token: str
    address: str
    did: str
    expires_at: datetime


# --- tasks ------------------------------------------------------------------------------------


class ReviewRules(_Model):
    """How a task's items are reviewed by validators (``rules.review``)."""

    k: int = Field(default=3, ge=1, le=25, description="validators per item")
    gold_rate: float = Field(default=0.1, ge=0, le=1, description="share of a queue that is gold items")
    threshold: float = Field(default=0.98, gt=0.5, le=1, description="posterior that makes an item final")
    max_votes: int = Field(
        default=7, ge=1, le=51, description="votes before an unsure item goes to the requester"
    )
    labels: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=200, description="labels a vote may carry (a class, tags)"
    )
    validator_reward: Uint256 = Field(default=0, description="token base units per useful vote")

    @model_validator(mode="after")
    def _cap_above_k(self) -> ReviewRules:
        if self.max_votes < self.k:
            raise ValueError(f"max_votes ({self.max_votes}) must be at least k ({self.k})")
        return self


class AcceptanceRules(_Model):
    """What an item must be to be considered at all (pre-screening checks it)."""

    min_width: int = Field(default=0, ge=0, le=100_000)
    min_height: int = Field(default=0, ge=0, le=100_000)
    allowed_formats: list[str] = Field(default_factory=lambda: list(IMAGE_FORMATS), max_length=32)
    max_bytes: int | None = Field(default=None, gt=0, le=MAX_BIGINT)
    min_text_chars: int = Field(default=0, ge=0, le=MAX_BIGINT)
    max_duration_s: float | None = Field(default=None, gt=0)
    auto_accept: bool = False
    stages: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description='per-stage settings, e.g. {"pii": {"faces": "blur"}}'
    )
    review: ReviewRules = Field(default_factory=ReviewRules)


class TaskCreate(_Model):
    title: str = Field(min_length=3, max_length=200)
    description: str = Field(min_length=1, max_length=20_000)
    modality: Modality
    rules: AcceptanceRules = Field(default_factory=AcceptanceRules)
    reward_per_item: Uint256 = Field(description="token base units paid per accepted item")
    target_count: int = Field(gt=0, le=10_000_000)
    deadline: IsoDateTime
    consent_text: str = Field(min_length=1, max_length=20_000)
    licence: str = Field(default="CC-BY-4.0", min_length=1, max_length=200)
    allowed_jurisdictions: list[str] = Field(
        default_factory=list, max_length=250, description="ISO 3166-1 alpha-2; empty means any"
    )

    @field_validator("deadline")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("must include a time zone (e.g. 2027-01-31T00:00:00Z)")
        return value


class TaskPublic(_Model):
    id: int
    requester: str
    title: str
    description: str
    modality: Modality
    rules: AcceptanceRules
    reward_per_item: str  # decimal text: uint256 does not fit a JSON number safely
    target_count: int
    deadline: datetime
    consent_text: str
    consent_hash: str
    licence: str
    allowed_jurisdictions: list[str]
    status: TaskStatus
    created_at: datetime
    submission_count: int = 0


# --- blobs ------------------------------------------------------------------------------------


class BlobPublic(_Model):
    cid: str
    size: int
    profile: str
    created_at: datetime


# --- submissions ------------------------------------------------------------------------------


class SubmissionCreate(_Model):
    """What a contributor signs (EIP-712 ``Submission``) and sends; the task id is in the path."""

    cid: str = Field(min_length=1, max_length=100)
    consent_hash: Hex32
    jurisdiction: str = Field(min_length=2, max_length=2)
    nonce: Uint256
    deadline: int = Field(ge=0, lt=2**63, description="unix seconds after which the signature is void")
    signature: EcdsaSignature


class StateChange(_Model):
    from_state: SubmissionState | None
    to_state: SubmissionState
    reason: str | None
    at: datetime


class SubmissionPublic(_Model):
    id: int
    task_id: int
    contributor: str
    contributor_did: str
    cid: str
    consent_hash: str
    jurisdiction: str
    nonce: str
    deadline: int
    signature: str
    digest: str
    state: SubmissionState
    created_at: datetime
    updated_at: datetime
    history: list[StateChange] = Field(default_factory=list)
    details: dict[str, Any] = Field(default_factory=dict)


# --- community review -------------------------------------------------------------------------

Verdict = Literal["accept", "reject"]


class PrescreenReport(_Model):
    """The pre-screen report a validator sees with an item (gold items carry one of the same shape)."""

    outcome: str | None = "in_review"
    reasons: list[str] = Field(default_factory=list)
    stages: list[dict[str, Any]] = Field(default_factory=list)


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
