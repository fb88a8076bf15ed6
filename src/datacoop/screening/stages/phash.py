"""Perceptual hash: 64 bits that stay nearly the same when an image is resized, re-encoded or lightly edited.

The hash is ImageHash's DCT pHash (grayscale, 32×32, 2-D DCT, the 8×8 lowest
frequencies, each bit set where the coefficient is above their median), so hashes
agree with other tools that use ImageHash. It is computed on the reduced copy the
decode stage made; a 32×32 thumbnail looks the same whichever size it came from.
The duplicates stage looks the hash up; this stage only computes it.
"""

from __future__ import annotations

from typing import ClassVar

from PIL import Image

from datacoop.screening.base import ItemContext, StageResult, TaskView, Verdict
from datacoop.screening.stages._deps import require
from datacoop.tasks.rules import Modality

__all__ = ["PerceptualHashStage", "hamming", "phash64"]

require("phash", "imagehash")


def phash64(image: Image.Image) -> int:
    """The 64-bit DCT perceptual hash of ``image`` as an int (bit 63 is the top-left coefficient)."""
    import imagehash  # with SciPy, 60 MiB: loaded on first use (see _deps.py)

    gray = image.convert("L")
    factor = min(gray.size) // 128
    if factor >= 2:
        # A box reduction to ~128 px first: Lanczos straight from 1,000 px costs 4-8 ms, this under 2,
        # and the 32x32 thumbnail the hash reads is the same on natural images.
        gray = gray.reduce(factor)
    bits = imagehash.phash(gray, hash_size=8).hash.flatten()
    value = 0
    for bit in bits:
        value = (value << 1) | int(bit)
    return value


def hamming(a: int, b: int) -> int:
    """How many of the 64 bits differ between two hashes."""
    return (a ^ b).bit_count()


class PerceptualHashStage:
    """Computes the image's pHash into ``details["phash"]`` (hex) and ``item.scratch["phash"]`` (int)."""

    name: ClassVar[str] = "phash"
    modalities: ClassVar[frozenset[Modality]] = frozenset({Modality.IMAGE})
    cost: ClassVar[int] = 40

    def run(self, item: ItemContext, task: TaskView) -> StageResult:
        image = item.scratch.get("image")
        if not isinstance(image, Image.Image):
            return StageResult(self.name, Verdict.SKIPPED, ("the image was not decoded",))
        value = phash64(image)
        item.scratch["phash"] = value
        return StageResult(self.name, Verdict.PASS, details={"phash": f"0x{value:016x}"})
