"""The shapes DataCoop's services take and return, shared by the API, the CLI and the SDK.

One family per concept (``XCreate`` in, ``XPublic`` out). Field constraints here
are the limits users meet: a pydantic error names the field and the limit, and
the API turns it into ``{"error": {"code", "message", "field"}}``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from datacoop.domain.submissions import SubmissionState
from datacoop.domain.tasks import Modality, TaskStatus

__all__ = [
    "AcceptanceRules",
    "BlobPublic",
    "NoncePublic",
    "SessionPublic",
    "SignIn",
    "StateChange",
    "SubmissionCreate",
    "SubmissionPublic",
    "TaskCreate",
    "TaskPublic",
]

Uint256 = Annotated[int, Field(ge=0, lt=2**256)]
Hex32 = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{64}$", description="0x-prefixed 32-byte hex")]
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
    signature: str = Field(min_length=2, max_length=300)


class SessionPublic(_Model):
    token: str
    address: str
    did: str
    expires_at: datetime


# --- tasks ------------------------------------------------------------------------------------


class AcceptanceRules(_Model):
    """What an item must be to be considered at all (pre-screening checks it)."""

    min_width: int = Field(default=0, ge=0, le=100_000)
    min_height: int = Field(default=0, ge=0, le=100_000)
    allowed_formats: list[str] = Field(default_factory=lambda: list(IMAGE_FORMATS), max_length=32)
    max_bytes: int | None = Field(default=None, gt=0)
    min_text_chars: int = Field(default=0, ge=0)
    max_duration_s: float | None = Field(default=None, gt=0)
    auto_accept: bool = False
    stages: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description='per-stage settings, e.g. {"pii": {"faces": "blur"}}'
    )


class TaskCreate(_Model):
    title: str = Field(min_length=3, max_length=200)
    description: str = Field(min_length=1, max_length=20_000)
    modality: Modality
    rules: AcceptanceRules = Field(default_factory=AcceptanceRules)
    reward_per_item: Uint256 = Field(description="token base units paid per accepted item")
    target_count: int = Field(gt=0, le=10_000_000)
    deadline: datetime
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
    signature: str = Field(min_length=2, max_length=300)


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
