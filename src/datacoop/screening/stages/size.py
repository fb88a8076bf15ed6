"""Size: refuse what is too large to look at, before a single byte is read."""

from __future__ import annotations

from typing import ClassVar

from datacoop.screening.base import ItemContext, StageResult, TaskView, Verdict
from datacoop.tasks.rules import Modality

__all__ = ["DEFAULT_MAX_BYTES", "SizeStage"]

MiB = 1 << 20
DEFAULT_MAX_BYTES = {Modality.IMAGE: 50 * MiB, Modality.TEXT: 10 * MiB, Modality.AUDIO: 200 * MiB}


class SizeStage:
    """The task's ``max_bytes`` (or the modality's default) bounds what later stages load into memory."""

    name: ClassVar[str] = "size"
    modalities: ClassVar[frozenset[Modality]] = frozenset(Modality)
    cost: ClassVar[int] = 0

    def run(self, item: ItemContext, task: TaskView) -> StageResult:
        limit = int(task.rules.get("max_bytes") or DEFAULT_MAX_BYTES[task.modality])
        if item.size == 0:
            return StageResult(self.name, Verdict.FAIL, ("the file is empty",), details={"size": 0})
        if item.size > limit:
            reason = f"the file is {item.size:,} bytes; this task takes at most {limit:,}"
            return StageResult(
                self.name, Verdict.FAIL, (reason,), details={"size": item.size, "limit": limit}
            )
        return StageResult(self.name, Verdict.PASS, details={"size": item.size, "limit": limit})
