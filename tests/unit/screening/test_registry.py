"""The built-in stages are found through the ``datacoop.stages`` entry points, like a third party's."""

from __future__ import annotations

import subprocess
import sys

import pytest

from datacoop.screening.registry import discover, stages_for
from datacoop.screening.stages._deps import require
from datacoop.screening.stages.decode import DecodeStage
from datacoop.screening.stages.phash import PerceptualHashStage
from datacoop.screening.stages.pii import PiiStage
from datacoop.screening.stages.quality import QualityStage
from datacoop.screening.stages.scrub import ScrubStage
from datacoop.tasks.rules import Modality

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


def test_a_missing_library_fails_at_registration_and_names_the_extra() -> None:
    with pytest.raises(ImportError, match=r"the pii stage needs no_such_lib_xyz: .*datacoop\[pipeline\]"):
        require("pii", "numpy", "no_such_lib_xyz")


def test_loading_the_stage_classes_imports_no_heavy_library() -> None:
    # The API process loads every stage class at start: numpy, OpenCV, SciPy, presidio must wait for a job.
    probe = "import sys; from datacoop.screening.stages import decode, scrub, quality, phash, pii; " + (
        "print(sorted(m for m in ('numpy', 'cv2', 'scipy', 'imagehash', 'presidio_analyzer', 'mutagen') "
        "if m in sys.modules))"
    )

    run = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )

    assert run.stdout.strip() == "[]"
