"""What a buyer sees of a compute job (the API's and the SDK's shape)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Base64Bytes, BaseModel, Field

from datacoop.db.models import ComputeJob

__all__ = ["JobCreate", "JobOutput", "JobPublic", "OutputLink"]


class JobOutput(BaseModel):
    name: str
    size: int
    cid: str


class JobPublic(BaseModel):
    """A job's status, and when it has finished: outcome, reason, the scrubbed log and released outputs."""

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

    @classmethod
    def of(cls, row: ComputeJob) -> JobPublic:
        return cls(
            id=row.id, version_id=row.version_id, algorithm_name=row.algorithm_name, entry=row.entry,
            requirements=list(row.requirements), status=row.status, outcome=row.outcome, reason=row.reason,
            log=row.log, outputs=[JobOutput(**o) for o in row.outputs], isolation=dict(row.isolation),
            seconds=row.seconds, created_at=row.created_at, finished_at=row.finished_at,
        )  # fmt: skip


class JobCreate(BaseModel):
    """A buyer's algorithm for one version: a .py file or a .zip package, base64 in JSON (at most 1 MiB)."""

    version_id: int
    filename: str = Field(min_length=4, max_length=200)
    source: Base64Bytes
    entry: str | None = Field(default=None, max_length=200)
    requirements: list[str] = Field(default_factory=list, max_length=50)


class OutputLink(BaseModel):
    """Where to download one released output: a path with its signature; it works for ``ttl_seconds``."""

    url: str
    ttl_seconds: int
