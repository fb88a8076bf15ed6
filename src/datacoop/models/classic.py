"""Classic image features, for a task's relevance model when no image embedder is configured.

A 4×4×4 colour histogram (64 bins, summing to 1) and an 8×8 grey thumbnail (64 values, centred and
scaled to unit length): 128 float32 values, cheap enough to compute for every image, bounded in size,
and enough for a linear model to tell a task's usual pictures from the odd ones out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

    from datacoop.models.base import Vectors

__all__ = ["CLASSIC_DIMS", "CLASSIC_NAME", "image_features"]

CLASSIC_NAME = "classic-hist-thumb"
CLASSIC_DIMS = 128


def image_features(image: Image.Image) -> Vectors:
    """The image's 128 classic features, float32."""
    import numpy as np

    small = np.asarray(image.convert("RGB").resize((32, 32)), dtype=np.uint8)
    bins = (small // 64).reshape(-1, 3).astype(np.int64)
    histogram = np.bincount(bins[:, 0] * 16 + bins[:, 1] * 4 + bins[:, 2], minlength=64).astype(np.float32)
    histogram /= histogram.sum()
    grey = np.asarray(image.convert("L").resize((8, 8)), dtype=np.float32).ravel()
    grey -= grey.mean()
    grey /= float(np.linalg.norm(grey)) or 1.0
    return np.concatenate([histogram, grey]).astype(np.float32)
