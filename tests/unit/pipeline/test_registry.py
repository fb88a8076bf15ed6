"""The built-in stages are found through the ``datacoop.stages`` entry points, like a third party's."""

from __future__ import annotations

from datacoop.domain.tasks import Modality
from datacoop.pipeline.registry import discover, stages_for
from datacoop.pipeline.stages.decode import DecodeStage
from datacoop.pipeline.stages.phash import PerceptualHashStage
from datacoop.pipeline.stages.pii import PiiStage
from datacoop.pipeline.stages.quality import QualityStage
from datacoop.pipeline.stages.scrub import ScrubStage

BUILT_IN = (DecodeStage, ScrubStage, QualityStage, PerceptualHashStage, PiiStage)


def test_built_in_stages_are_registered() -> None:
    found = discover()

    for cls in BUILT_IN:
        assert found[cls.name] is cls


def test_image_stages_run_cheapest_first() -> None:
    names = [cls.name for cls in stages_for(Modality.IMAGE) if cls in BUILT_IN]

    assert names == ["decode", "scrub", "quality", "phash", "pii"]


def test_audio_gets_no_image_only_stages() -> None:
    names = {cls.name for cls in stages_for(Modality.AUDIO)}

    assert {"decode", "quality"} <= names and not {"scrub", "phash", "pii"} & names
