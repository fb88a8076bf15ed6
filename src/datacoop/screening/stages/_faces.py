"""Faces: found with a frontal-face Haar cascade that ships inside OpenCV, and blurred on request.

Detection runs on the decode stage's reduced copy, in grayscale, shrunk further to ``side``
pixels on the long side (512 by default) and searched for faces of ``min_size`` (20 px, the
cascade's window) and up: it finds faces from about 5–6% of the picture's long side (some
from 4%), in a 12-megapixel photo faces from 200–240 px wide. Smaller faces, which can still
identify someone, are not searched for: the cascade's cost grows with the square of
``side / min_size`` and with how face-like the texture is (not with the upload's size), and
at 512 px it already costs about twice a full decode of a 12-megapixel JPEG here.

OpenCV ships several frontal-face cascades. ``haarcascade_frontalface_alt2`` with scale
steps of 1.2 and 4 neighbours is the default, measured by ``benchmarks/faces.py`` against
``frontalface_default`` (1.15, 5, 24 px windows), which it replaced: on 21 faces pasted
into photo-like pictures at 3–30% of the long side it finds as many or more at every size
(5%: 71% against 57%; from 8% up both find 95%), and in a 4000×3000 photo the astronaut's
face from 6% of the long side rather than 8%; it reported 1 face in 6 faceless benchmark
pictures against 2, and costs about a third less CPU (114 against 164 ms per benchmark
picture, 69 against 85 ms per scikit-image photo, on one core here).
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PIL import Image, ImageFilter, ImageOps

from datacoop.screening.stages._raster import pillow_warnings

if TYPE_CHECKING:  # imported where used, see _deps.py
    import cv2

__all__ = ["Box", "FaceSettings", "blur_faces", "find_faces"]

CASCADE = "haarcascade_frontalface_alt2.xml"
_local = threading.local()  # a CascadeClassifier must not be shared between threads: one set per thread


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
    scale_factor: float = 1.2
    min_neighbors: int = 4
    min_size: int = 20  # pixels at ``side``: the cascade's own 20×20 window
    cascade: str = CASCADE  # a file in OpenCV's cv2.data.haarcascades


def _cascade(name: str) -> cv2.CascadeClassifier:
    import cv2

    loaded: dict[str, cv2.CascadeClassifier] = _local.__dict__.setdefault("cascades", {})
    cascade = loaded.get(name)
    if cascade is None:
        cascade = cv2.CascadeClassifier(cv2.data.haarcascades + name)  # type: ignore[attr-defined]
        if cascade.empty():
            raise RuntimeError(
                f"OpenCV's {name} could not be loaded (is opencv-python-headless<5 installed?)"
            )
        loaded[name] = cascade
    return cascade


def find_faces(image: Image.Image, settings: FaceSettings) -> list[Box]:
    """Faces in an upright RGB image."""
    import numpy as np

    small = image.convert("L")
    scale = settings.side / max(small.size)
    if scale < 1:
        small = small.resize((max(1, round(small.width * scale)), max(1, round(small.height * scale))))
    found = _cascade(settings.cascade).detectMultiScale(
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
