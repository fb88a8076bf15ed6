"""Several checks in one stage: each finding carries a verdict, and the stage reports the worst."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from datacoop.screening.base import StageResult, Verdict

__all__ = ["Finding", "combine", "setting"]

_SEVERITY = {Verdict.SKIPPED: 0, Verdict.PASS: 1, Verdict.UNSURE: 2, Verdict.FAIL: 3}


@dataclass(frozen=True)
class Finding:
    verdict: Verdict
    score: float  # 1.0 is clearly fine, 0.0 clearly not
    reason: str | None = None


def combine(stage: str, findings: Iterable[Finding], details: Mapping[str, Any]) -> StageResult:
    """One result: the worst verdict, the lowest score, and the reasons of the findings that were not fine."""
    listed = list(findings)
    if not listed:
        return StageResult(stage, Verdict.SKIPPED, details=details)
    worst = max((f.verdict for f in listed), key=_SEVERITY.__getitem__)
    reasons = tuple(f.reason for f in listed if f.reason and f.verdict in (Verdict.FAIL, Verdict.UNSURE))
    score = round(min(max(0.0, min(f.score, 1.0)) for f in listed), 4)
    return StageResult(stage, worst, reasons, score=score, details=details)


def setting(params: Mapping[str, Any], key: str, default: float) -> float:
    """A numeric threshold from the task's stage settings, or the default."""
    value = params.get(key)
    return default if value is None else float(value)
