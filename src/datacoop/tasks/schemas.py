"""Tasks, blobs and submissions as the API, the CLI and the SDK see them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator

from datacoop.schemas import IMAGE_FORMATS, MAX_BIGINT, EcdsaSignature, Hex32, IsoDateTime, Uint256, _Model
from datacoop.tasks.amounts import format_units
from datacoop.tasks.rules import Modality, TaskStatus
from datacoop.tasks.states import SubmissionState

__all__ = [
    "AcceptanceRules",
    "BlobPublic",
    "DashboardSample",
    "ReviewRules",
    "StateChange",
    "SubmissionCreate",
    "SubmissionPublic",
    "SubmissionRow",
    "TaskCreate",
    "TaskDashboard",
    "TaskPublic",
    "TokenPublic",
]


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
    auto_decide_precision: float | None = Field(
        default=None,
        gt=0.5,
        le=1,
        description="the task model decides items without votes once its held-out precision at an end "
        "reaches this (and its probability for the item too); default: never",
    )
    auto_decide_min_labels: int = Field(
        default=50, ge=10, le=100_000, description="final decisions the task model learns before it decides"
    )

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
    max_submissions_per_contributor: int | None = Field(
        default=None, ge=1, le=1_000_000,
        description="submissions one contributor may make to this task (429 past it); default: the node's",
    )  # fmt: skip
    stages: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description='per-stage settings, e.g. {"pii": {"faces": "blur"}}'
    )
    review: ReviewRules = Field(default_factory=ReviewRules)


class TokenPublic(_Model):
    """The ERC-20 a task pays in, as read from chain when the task was created."""

    address: str = Field(description="the token contract, EIP-55 checksummed")
    symbol: str = Field(description="its symbol() as shown (printable characters only; may be empty)")
    decimals: int = Field(ge=0, le=77, description="base units per token = 10**decimals")

    def format(self, units: int | str) -> str:
        """``units`` base units in this token, e.g. ``12.5 USDC``."""
        return format_units(units, self.decimals, self.symbol)


class TaskCreate(_Model):
    """A new task. Give the reward either in base units (``reward_per_item``) or as a person types it
    in whole tokens (``reward``, e.g. ``12.5``, at most the token's decimals)."""

    title: str = Field(min_length=3, max_length=200)
    description: str = Field(min_length=1, max_length=20_000)
    modality: Modality
    rules: AcceptanceRules = Field(default_factory=AcceptanceRules)
    token: str | None = Field(
        default=None,
        min_length=42,
        max_length=42,
        description="the ERC-20 the task pays in; default: the node's token on a development node",
    )
    reward_per_item: Uint256 | None = Field(
        default=None, description="token base units paid per accepted item (or give reward)"
    )
    reward: str | None = Field(
        default=None,
        max_length=100,
        description="whole tokens paid per accepted item, e.g. 12.5 (or give reward_per_item)",
    )
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
    token: TokenPublic | None = Field(
        default=None, description="what the amounts are in; null on a node without a chain"
    )
    reward_per_item: str = Field(description="token base units, as decimal text (uint256 overflows JSON)")
    target_count: int
    deadline: datetime
    consent_text: str
    consent_hash: str
    licence: str
    allowed_jurisdictions: list[str]
    status: TaskStatus
    created_at: datetime
    submission_count: int = 0


class BlobPublic(_Model):
    cid: str
    size: int
    profile: str
    created_at: datetime


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


class SubmissionRow(_Model):
    """One submission in a task's list, as its requester reads it: the shared copy's CID, no signature."""

    id: int
    state: SubmissionState
    contributor: str
    cid: str
    jurisdiction: str
    created_at: datetime
    updated_at: datetime


class DashboardSample(_Model):
    """One of a task's latest accepted items, as its requester previews it."""

    submission_id: int
    cid: str = Field(description="the scrubbed blob's CID (the upload's where nothing was scrubbed)")
    content: str = Field(description="the path that serves the item's bytes to the requester")


class TaskDashboard(_Model):
    """A requester's view of one task: progress, outcomes, why items were rejected, latest samples."""

    task_id: int
    target: int = Field(description="how many accepted items the task asks for")
    funded: bool = Field(description="whether the task is linked to a TaskEscrow task on chain")
    submissions: int = Field(description="submissions in any state")
    by_state: dict[str, int] = Field(description="submissions per state, every state named")
    accepted: int
    rejected: int
    progress: float = Field(description="accepted / target, rounded to 4 places (can exceed 1)")
    acceptance_rate: float | None = Field(
        description="accepted / (accepted + rejected), 4 places; null before any decision"
    )
    rejections_by_cause: dict[str, int] = Field(
        description="rejections per failed pre-screen stage (decode, quality, duplicates…) and 'review', "
        "most frequent first"
    )
    samples: list[DashboardSample] = Field(description="the latest accepted items, newest first")
