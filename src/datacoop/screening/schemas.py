"""A pre-screening report as the API and the SDK see it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from datacoop.schemas import _Model

__all__ = ["PrescreenReport", "Verdict"]


Verdict = Literal["accept", "reject"]


class PrescreenReport(_Model):
    """The pre-screen report a validator sees with an item (gold items carry one of the same shape)."""

    outcome: str | None = "in_review"
    reasons: list[str] = Field(default_factory=list)
    stages: list[dict[str, Any]] = Field(default_factory=list)
