"""What stages receive, built for tests: an ItemContext over bytes, a TaskView over rules, the chain."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from datacoop.cid import cid_of_bytes
from datacoop.screening.base import ItemContext, StageResult, TaskView, Verdict
from datacoop.screening.stages.decode import DecodeStage
from datacoop.screening.stages.phash import PerceptualHashStage
from datacoop.screening.stages.pii import PiiStage
from datacoop.screening.stages.quality import QualityStage
from datacoop.screening.stages.scrub import ScrubStage
from datacoop.tasks.rules import Modality
from datacoop.tasks.schemas import AcceptanceRules

CHAIN = (DecodeStage, ScrubStage, QualityStage, PerceptualHashStage, PiiStage)  # cheapest first


@dataclass
class Blobs:
    """What ``put_blob`` stored, by CID."""

    stored: dict[str, bytes] = field(default_factory=dict)

    def put(self, data: bytes) -> str:
        cid = cid_of_bytes(data)
        self.stored[cid] = data
        return cid


def make_item(data: bytes, blobs: Blobs | None = None) -> ItemContext:
    """An item under screening whose bytes are ``data``; derived blobs go to ``blobs``."""
    store = blobs if blobs is not None else Blobs()
    return ItemContext(1, cid_of_bytes(data), len(data), "0x" + "11" * 20, lambda: data, store.put)


def make_task(modality: Modality | str = Modality.IMAGE, **rules: Any) -> TaskView:
    """A task whose rules are AcceptanceRules(**rules) dumped, with per-stage settings under ``stages``."""
    stages: Mapping[str, Any] = rules.pop("stages", {})
    dumped = AcceptanceRules(**rules).model_dump() | {"stages": dict(stages)}
    return TaskView(1, Modality(modality), "Street photos", "Photos of streets", dumped)


def run_chain(item: ItemContext, task: TaskView) -> dict[str, StageResult]:
    """The built-in stages that apply, in cost order, stopping after the first fail (as the pipeline does)."""
    results: dict[str, StageResult] = {}
    for cls in sorted(CHAIN, key=lambda c: c.cost):
        if task.modality not in cls.modalities:
            continue
        results[cls.name] = cls().run(item, task)
        if results[cls.name].verdict is Verdict.FAIL:
            break
    return results
