"""Faces: found with the frontal-face Haar cascade that ships inside OpenCV, and blurred on request.

Detection runs on the decode stage's reduced copy shrunk further to ``side`` pixels on
the long side (512 by default). The cascade's cost grows with the area searched and
with how face-like the texture is: at 512 px it takes 8–70 ms on one core here and
finds faces from about 4% of the picture's long side up; at 640 px it finds faces
from 3% but takes up to twice as long.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PIL import Image, ImageFilter, ImageOps

from datacoop.pipeline.stages._raster import pillow_warnings

if TYPE_CHECKING:  # imported where used, see _deps.py
    import cv2

__all__ = ["Box", "FaceSettings", "blur_faces", "find_faces"]

CASCADE = "haarcascade_frontalface_default.xml"
_local = threading.local()  # a CascadeClassifier must not be shared between threads


@dataclass(frozen=True)
class Box:
    """A face, as fractions (0–1) of the upright picture's width and height."""

    left: float
    top: float
    width: float
    height: float


@dataclass(frozen=True)
class FaceSettings:
    side: int = 512
    scale_factor: float = 1.15
    min_neighbors: int = 5
    min_size: int = 24  # pixels at ``side``


def _cascade() -> cv2.CascadeClassifier:
    import cv2

    cascade: cv2.CascadeClassifier | None = getattr(_local, "cascade", None)
    if cascade is None:
        cascade = cv2.CascadeClassifier(cv2.data.haarcascades + CASCADE)  # type: ignore[attr-defined]
        if cascade.empty():
            raise RuntimeError(
                f"OpenCV's {CASCADE} could not be loaded (is opencv-python-headless<5 installed?)"
            )
        _local.cascade = cascade
    return cascade


def find_faces(image: Image.Image, settings: FaceSettings) -> list[Box]:
    """Faces in an upright RGB image."""
    import numpy as np

    small = image.convert("L")
    scale = settings.side / max(small.size)
    if scale < 1:
        small = small.resize((max(1, round(small.width * scale)), max(1, round(small.height * scale))))
    found = _cascade().detectMultiScale(
        np.asarray(small),
        scaleFactor=settings.scale_factor,
        minNeighbors=settings.min_neighbors,
        minSize=(settings.min_size, settings.min_size),
    )
    w, h = small.size
    return [Box(x / w, y / h, bw / w, bh / h) for x, y, bw, bh in (tuple(map(int, f)) for f in found)]


def blur_faces(data: bytes, pil_format: str, boxes: list[Box], *, margin: float = 0.25) -> bytes:
    """The full-size picture, upright, with every box (grown by ``margin``) blurred past recognition.

    The copy is re-encoded from pixels only (JPEG stays JPEG, anything else becomes PNG),
    so it carries no metadata either.
    """
    with pillow_warnings(), Image.open(io.BytesIO(data), formats=[pil_format]) as original:
        picture = ImageOps.exif_transpose(original).convert("RGB")
    for box in boxes:
        region = _grown(box, margin, picture.size)
        face = picture.crop(region)
        radius = max(4, max(face.size) // 4)
        picture.paste(face.filter(ImageFilter.GaussianBlur(radius)), region[:2])
    out = io.BytesIO()
    if pil_format == "JPEG":
        picture.save(out, "JPEG", quality=90)
    else:
        picture.save(out, "PNG")
    return out.getvalue()


def _grown(box: Box, margin: float, size: tuple[int, int]) -> tuple[int, int, int, int]:
    width, height = size
    left = max(0.0, box.left - box.width * margin)
    top = max(0.0, box.top - box.height * margin)
    right = min(1.0, box.left + box.width * (1 + margin))
    bottom = min(1.0, box.top + box.height * (1 + margin))
    return round(left * width), round(top * height), round(right * width), round(bottom * height)
