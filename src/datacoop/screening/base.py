"""The pre-screening stage protocol: what every check, built in or third-party, implements.

A stage looks at one item of one task and returns a :class:`StageResult`:
a verdict (pass / fail / unsure / skipped), an optional score, reasons a
contributor can read, machine-readable details, and artifacts (for example
the CID of a scrubbed copy). Stages run cheap-first and the pipeline stops at
the first ``fail``. Stages share work through :attr:`ItemContext.scratch`
(the decoded image, the sniffed format), so nothing is decoded twice.

Stages are plugins: they are found through the ``datacoop.stages`` entry-point
group, the same way a third party adds one (see ``registry.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from datacoop.screening.verdicts import Verdict
from datacoop.tasks.rules import Modality

__all__ = ["DuplicateLookup", "ItemContext", "Stage", "StageDeps", "StageResult", "TaskView", "Verdict"]


@dataclass(frozen=True)
class StageResult:
    stage: str
    verdict: Verdict
    reasons: tuple[str, ...] = ()
    score: float | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    artifacts: Mapping[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "verdict": self.verdict.value,
            "reasons": list(self.reasons),
            "score": self.score,
            "details": dict(self.details),
            "artifacts": dict(self.artifacts),
        }


@dataclass(frozen=True)
class TaskView:
    """What a stage may know of the task (no database rows cross into stages)."""

    id: int
    modality: Modality
    title: str
    description: str
    rules: Mapping[str, Any]  # AcceptanceRules as a dict, including per-stage settings under "stages"

    def params(self, stage: str) -> Mapping[str, Any]:
        """The task's settings for one stage (thresholds, policies); empty means the stage's defaults."""
        stages: Mapping[str, Any] = self.rules.get("stages") or {}
        return stages.get(stage) or {}


@dataclass
class ItemContext:
    """One item under screening: its bytes on demand, and a scratch space shared by the stages."""

    submission_id: int
    cid: str
    size: int
    contributor: str
    read: Callable[[], bytes]  # the original bytes (loaded once, size already bounded by the upload limit)
    put_blob: Callable[[bytes], str]  # store derived bytes (a scrubbed copy); returns their CID
    scratch: dict[str, Any] = field(default_factory=dict)
    signals: Mapping[str, Any] = field(default_factory=dict)  # e.g. client IP/device hashes where known

    _data: bytes | None = field(default=None, repr=False)

    def data(self) -> bytes:
        if self._data is None:
            self._data = self.read()
        return self._data


class DuplicateLookup(Protocol):
    """What the duplicates stage asks of the node (the service answers from the database)."""

    def exact(self, cid: str, task_id: int, submission_id: int) -> int | None:
        """An earlier live submission with the same CID, if any (the first to arrive keeps it)."""

    def near(self, phash: int, radius: int, submission_id: int) -> list[tuple[int, int]]:
        """(submission id, Hamming distance) of live items whose perceptual hash is within radius."""


@dataclass(frozen=True)
class StageDeps:
    """What a stage may be given at construction: node-wide lookups and models."""

    duplicates: DuplicateLookup | None = None
    models: Mapping[str, Any] = field(default_factory=dict)


class Stage(Protocol):
    """One pre-screening check.

    A class may define ``create(deps: StageDeps)``; otherwise it is built with no arguments.
    """

    name: ClassVar[str]
    modalities: ClassVar[frozenset[Modality]]
    cost: ClassVar[int]  # lower runs earlier: cheap checks first

    def run(self, item: ItemContext, task: TaskView) -> StageResult: ...
