"""Duplicates: the same bytes (CID) anywhere on the node, or a near-identical image (perceptual hash)."""

from __future__ import annotations

from typing import ClassVar

from datacoop.screening.base import DuplicateLookup, ItemContext, StageDeps, StageResult, TaskView, Verdict
from datacoop.tasks.rules import Modality

__all__ = ["DuplicateStage"]


class DuplicateStage:
    """Fails exact copies and close near-duplicates; sends looser look-alikes to review.

    Settings (``rules.stages.duplicates``): ``reject_within`` (default 4 bits of 64) and
    ``review_within`` (default 8) Hamming distance between perceptual hashes.
    """

    name: ClassVar[str] = "duplicates"
    modalities: ClassVar[frozenset[Modality]] = frozenset(Modality)
    cost: ClassVar[int] = 45  # after the perceptual hash is computed

    def __init__(self, lookup: DuplicateLookup | None = None) -> None:
        self._lookup = lookup

    @classmethod
    def create(cls, deps: StageDeps) -> DuplicateStage:
        return cls(deps.duplicates)

    def run(self, item: ItemContext, task: TaskView) -> StageResult:
        if self._lookup is None:
            return StageResult(self.name, Verdict.SKIPPED, ("duplicate lookup not configured",))
        other = self._lookup.exact(item.cid, task.id, item.submission_id)
        if other is not None:
            return StageResult(
                self.name, Verdict.FAIL,
                (f"this exact file was already submitted (submission {other})",),
                score=1.0, details={"duplicate_of": other, "distance": 0},
            )  # fmt: skip
        phash = item.scratch.get("phash")
        if phash is None:
            return StageResult(self.name, Verdict.PASS, details={"checked": "exact"})
        return self._near(item, task, int(phash))

    def _near(self, item: ItemContext, task: TaskView, phash: int) -> StageResult:
        params = task.params(self.name)
        reject_within = int(params.get("reject_within", 4))
        review_within = int(params.get("review_within", 8))
        matches = self._lookup.near(phash, review_within, item.submission_id) if self._lookup else []
        if not matches:
            return StageResult(self.name, Verdict.PASS, score=0.0, details={"checked": "exact+near"})
        other, distance = matches[0]
        details = {"duplicate_of": other, "distance": distance, "matches": len(matches)}
        score = 1.0 - distance / 64
        if distance <= reject_within:
            reason = f"this image is a near copy of submission {other} ({distance} of 64 hash bits differ)"
            return StageResult(self.name, Verdict.FAIL, (reason,), score=score, details=details)
        reason = f"this image looks much like submission {other} ({distance} of 64 hash bits differ)"
        return StageResult(self.name, Verdict.UNSURE, (reason,), score=score, details=details)
