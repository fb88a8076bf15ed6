"""Quality: is the item usable at all? Resolution, blur, exposure and emptiness; text sense; audio level.

Everything is measured on what the decode stage left in ``item.scratch`` (for images the
reduced copy, about 1,000 px on the long side), so this stage never decodes again.
It fails only clear violations and sends borderline items to review (``unsure``).

Settings (``rules.stages.quality``), with defaults:

- images: ``blur_fail`` (10) / ``blur_review`` (40): variance of the Laplacian of the
  reduced grayscale; ``dark_fail`` (20) / ``dark_review`` (45) and ``bright_fail`` (240) /
  ``bright_review`` (215): mean brightness of 255; ``blank_fail`` (3) / ``blank_review`` (8):
  standard deviation of brightness. Resolution comes from the task's ``min_width``/``min_height``.
- text: see ``_textcheck.py`` (``min_words``, ``language``).
- audio (WAV): ``silence_dbfs`` (-60) fails, ``quiet_dbfs`` (-40) and ``clipped_share`` (0.01) review.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from PIL import Image

from datacoop.screening.base import ItemContext, StageResult, TaskView, Verdict
from datacoop.screening.stages._audio import AudioError, wav_levels
from datacoop.screening.stages._deps import require
from datacoop.screening.stages._findings import Finding, combine, setting
from datacoop.screening.stages._textcheck import check_text
from datacoop.tasks.rules import Modality

if TYPE_CHECKING:  # imported where used, see _deps.py
    import numpy as np
    from numpy.typing import NDArray

require("quality", "numpy", "cv2")

__all__ = ["QualityStage", "sharpness"]


def sharpness(gray: NDArray[np.uint8]) -> float:
    """Variance of the Laplacian: low when edges are soft (blur), high when they are crisp."""
    import cv2

    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


class QualityStage:
    """Scores how usable an image, text or recording is, failing only the clearly unusable."""

    name: ClassVar[str] = "quality"
    modalities: ClassVar[frozenset[Modality]] = frozenset(Modality)
    cost: ClassVar[int] = 30

    def run(self, item: ItemContext, task: TaskView) -> StageResult:
        params = task.params(self.name)
        if task.modality is Modality.TEXT and "text" in item.scratch:
            return combine(self.name, *check_text(str(item.scratch["text"]), params))
        if task.modality is Modality.AUDIO and "format" in item.scratch:
            return self._audio(item, params)
        image = item.scratch.get("image")
        if not isinstance(image, Image.Image):
            return StageResult(self.name, Verdict.SKIPPED, ("the item was not decoded",))
        import numpy as np

        gray = np.asarray(image.convert("L"))
        details: dict[str, Any] = {}
        findings = [_resolution(item, task, details), *_pixels(gray, params, details)]
        return combine(self.name, findings, details)

    def _audio(self, item: ItemContext, params: Mapping[str, Any]) -> StageResult:
        if item.scratch["format"] != "wav":
            return StageResult(self.name, Verdict.SKIPPED, ("loudness is measured for WAV recordings only",))
        try:
            levels = wav_levels(item.data())
        except AudioError as exc:
            return StageResult(self.name, Verdict.FAIL, (f"the recording cannot be read ({exc})",), score=0.0)
        if levels is None:
            return StageResult(self.name, Verdict.SKIPPED, ("this WAV encoding is not measured",))
        details = {"rms_dbfs": round(levels.rms_dbfs, 1), "peak_dbfs": round(levels.peak_dbfs, 1)}
        details["clipped_share"] = round(levels.clipped_share, 5)
        silence, quiet = setting(params, "silence_dbfs", -60), setting(params, "quiet_dbfs", -40)
        findings = [_band(levels.rms_dbfs, silence, quiet, "the recording")]
        clip_limit = setting(params, "clipped_share", 0.01)
        if levels.clipped_share > clip_limit:
            share = f"{levels.clipped_share:.1%}"
            reason = (
                f"the recording is clipped ({share} of samples at full scale; review above {clip_limit:.0%})"
            )
            findings.append(Finding(Verdict.UNSURE, 0.5, reason))
        return combine(self.name, findings, details)


def _band(level: float, silence: float, quiet: float, what: str) -> Finding:
    score = min(1.0, max(0.0, (level - silence) / max(quiet - silence, 1e-9)))
    if level < silence:
        return Finding(
            Verdict.FAIL, 0.0, f"{what} is silent (average level {level:.0f} dBFS; needs {silence:g})"
        )
    if level < quiet:
        return Finding(Verdict.UNSURE, score, f"{what} is very quiet (average level {level:.0f} dBFS)")
    return Finding(Verdict.PASS, score)


def _resolution(item: ItemContext, task: TaskView, details: dict[str, Any]) -> Finding:
    width, height = int(item.scratch.get("width", 0)), int(item.scratch.get("height", 0))
    min_w, min_h = int(task.rules.get("min_width") or 0), int(task.rules.get("min_height") or 0)
    details.update(width=width, height=height)
    score = min(1.0, width / min_w if min_w else 1.0, height / min_h if min_h else 1.0)
    if width < min_w or height < min_h:
        reason = f"the image is {width:,}×{height:,}; this task needs at least {min_w:,}×{min_h:,}"
        return Finding(Verdict.FAIL, score, reason)
    return Finding(Verdict.PASS, score)


def _pixels(gray: NDArray[np.uint8], params: Mapping[str, Any], details: dict[str, Any]) -> Iterator[Finding]:
    mean, spread = float(gray.mean()), float(gray.std())
    details.update(brightness=round(mean, 1), contrast=round(spread, 2))
    exposure = _exposure(gray, mean, params, details)
    yield exposure
    if exposure.verdict is Verdict.FAIL:
        return  # a black or white frame has no contrast or edges worth scoring
    emptiness = _emptiness(spread, params)
    yield emptiness
    if emptiness.verdict is not Verdict.FAIL:
        yield _blur(gray, params, details)


def _exposure(
    gray: NDArray[np.uint8], mean: float, params: Mapping[str, Any], details: dict[str, Any]
) -> Finding:
    dark_share, bright_share = float((gray <= 16).mean()), float((gray >= 240).mean())
    details.update(dark_share=round(dark_share, 3), bright_share=round(bright_share, 3))
    dark_fail, dark_review = setting(params, "dark_fail", 20), setting(params, "dark_review", 45)
    bright_fail, bright_review = setting(params, "bright_fail", 240), setting(params, "bright_review", 215)
    said = f"mean brightness {mean:.0f} of 255"
    if mean < dark_fail:
        return Finding(Verdict.FAIL, 0.0, f"the image is almost black ({said}; needs at least {dark_fail:g})")
    if mean > bright_fail:
        return Finding(
            Verdict.FAIL, 0.0, f"the image is almost white ({said}; needs at most {bright_fail:g})"
        )
    if mean < dark_review or dark_share > 0.6:
        return Finding(Verdict.UNSURE, 0.5, f"the image is very dark ({said}, {dark_share:.0%} near black)")
    if mean > bright_review or bright_share > 0.6:
        return Finding(
            Verdict.UNSURE, 0.5, f"the image is very bright ({said}, {bright_share:.0%} near white)"
        )
    return Finding(Verdict.PASS, 1.0)


def _emptiness(spread: float, params: Mapping[str, Any]) -> Finding:
    blank_fail, blank_review = setting(params, "blank_fail", 3), setting(params, "blank_review", 8)
    said = f"brightness varies by {spread:.1f} of 255"
    if spread < blank_fail:
        return Finding(Verdict.FAIL, 0.0, f"the image is nearly blank: one flat colour ({said})")
    if spread < blank_review:
        return Finding(Verdict.UNSURE, spread / blank_review / 2, f"the image is nearly empty ({said})")
    return Finding(Verdict.PASS, 1.0)


def _blur(gray: NDArray[np.uint8], params: Mapping[str, Any], details: dict[str, Any]) -> Finding:
    value = sharpness(gray)
    details["sharpness"] = round(value, 1)
    blur_fail, blur_review = setting(params, "blur_fail", 10), setting(params, "blur_review", 40)
    score = min(1.0, value / (2 * blur_review))
    said = f"sharpness {value:.1f}"
    if value < blur_fail:
        return Finding(
            Verdict.FAIL, score, f"the image is too blurred to use ({said}; needs at least {blur_fail:g})"
        )
    if value < blur_review:
        return Finding(
            Verdict.UNSURE,
            score,
            f"the image looks blurred ({said}; sharp photos score over {blur_review:g})",
        )
    return Finding(Verdict.PASS, score)
