"""What a buyer sees of a compute job (the API's and the SDK's shape)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Base64Bytes, BaseModel, Field, model_validator

from datacoop.schemas import RowId

__all__ = ["JobCreate", "JobOutput", "JobPublic", "OutputLink", "PolicyBody", "PolicyPublic"]


class JobOutput(BaseModel):
    name: str
    size: int
    cid: str


class JobPublic(BaseModel):
    """A job's status, and when it has finished: outcome, reason, the scrubbed log and released outputs.

    Built from a row by :func:`datacoop.compute.service.job_public`.
    """

    id: int
    version_id: int
    algorithm_name: str
    entry: str
    requirements: list[str]
    status: str
    outcome: str | None
    reason: str | None
    log: str | None
    outputs: list[JobOutput]
    isolation: dict[str, Any]
    seconds: float | None
    created_at: datetime
    finished_at: datetime | None


class JobCreate(BaseModel):
    """A buyer's algorithm for one version: a .py file or a .zip package, base64 in JSON (at most 1 MiB)."""

    version_id: RowId
    filename: str = Field(min_length=4, max_length=200)
    source: Base64Bytes
    entry: str | None = Field(default=None, max_length=200)
    requirements: list[str] = Field(default_factory=list, max_length=50)


class OutputLink(BaseModel):
    """Where to download one released output: a path with its signature; it works for ``ttl_seconds``."""

    url: str
    ttl_seconds: int


Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$")]
Dim = Annotated[int, Field(ge=1, le=100_000)]


class PolicyBody(BaseModel):
    """A version's release rules, set by its publisher (see :mod:`datacoop.compute.release`)."""

    mode: Literal["approved", "open"]
    approved: list[Sha256] = Field(default_factory=list, max_length=1000)
    metrics: list[Name] = Field(default_factory=lambda: ["accuracy", "loss", "items"], max_length=64)
    parameters: dict[Name, list[Dim]] = Field(default_factory=dict, max_length=64)
    budget_fraction: float = Field(default=0.05, gt=0, le=0.5)
    digits: int = Field(default=6, ge=1, le=15)
    mechanism: Literal["none", "laplace", "gaussian"] = "none"
    epsilon: float = Field(default=0.0, ge=0, le=100)
    delta: float = Field(default=1e-6, gt=0, lt=1)
    bounds: tuple[float, float] = Field(
        default=(0.0, 1.0), description="with noise, each released number is clipped into [low, high]"
    )
    epsilon_budget: float = Field(default=0.0, ge=0, le=10_000)

    @model_validator(mode="after")
    def _consistent(self) -> PolicyBody:
        if self.mode == "approved" and not self.approved:
            raise ValueError("approved mode needs at least one approved algorithm sha256 in 'approved'")
        if self.mechanism != "none" and self.epsilon <= 0:
            raise ValueError("a noise mechanism needs epsilon > 0 per job")
        low, high = self.bounds
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise ValueError("bounds must be two finite numbers, low < high")
        if any(len(shape) > 4 for shape in self.parameters.values()):
            raise ValueError("a parameter has at most 4 dimensions")
        return self


class PolicyPublic(PolicyBody):
    version_id: int
