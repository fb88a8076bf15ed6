"""Decoding an untrusted image once, small, and only after its size is known to be safe.

Order matters: the size is read from the header (our own parser for JPEG, PNG, GIF,
BMP and WebP) and checked against the pixel limit *before* Pillow sees the file, so a
decompression bomb never gets a raster allocated. Pillow then opens the file with only
the sniffed format's plugin enabled, ``verify()``-s it and decodes it at reduced size:
JPEG through ``draft()`` (the decoder's own 1/2, 1/4 or 1/8 scaling, several times
faster than a full decode), other formats fully and then ``reduce()``-d.
"""

from __future__ import annotations

import contextlib
import io
import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from datacoop.screening.stages._formats import header_size
from datacoop.screening.stages._jpeg import JpegError, JpegLayout, read_layout

__all__ = ["PIL_FORMATS", "Limits", "Raster", "Rejected", "decode_image", "megapixels", "pillow_warnings"]

PIL_FORMATS = {"jpeg": "JPEG", "png": "PNG", "gif": "GIF", "webp": "WEBP", "tiff": "TIFF", "bmp": "BMP"}
_ORIENTATION_TAG = 0x0112
_TRANSPOSE = {  # EXIF orientation -> the transpose that shows the picture upright (as ImageOps does)
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


class Rejected(Exception):
    """The image is refused: ``reason`` is the sentence the contributor reads."""

    def __init__(self, reason: str, **details: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.details = details


@dataclass(frozen=True)
class Limits:
    max_pixels: int
    max_metadata_bytes: int
    reduced_side: int


@dataclass(frozen=True)
class Raster:
    """A decoded image: full size as displayed (orientation applied) and a small RGB copy."""

    format: str
    width: int
    height: int
    orientation: int
    reduced: Image.Image
    layout: JpegLayout | None = None
    warnings: tuple[str, ...] = field(default=())


def megapixels(pixels: int) -> str:
    return f"{pixels / 1e6:,.1f}" if pixels < 10_000_000 else f"{pixels / 1e6:,.0f}"


def decode_image(data: bytes, kind: str, limits: Limits) -> Raster:
    """Check and decode an image of the sniffed ``kind``; raises :class:`Rejected` with the reason."""
    layout = _jpeg_layout(data) if kind == "jpeg" else None
    size = layout.size if layout is not None else header_size(kind, data)
    if size is not None:
        _check_pixels(size, limits.max_pixels)
    if layout is not None and layout.metadata_bytes() > limits.max_metadata_bytes:
        carried = layout.metadata_bytes()
        raise Rejected(
            f"the JPEG carries {carried / 1e6:,.1f} MB of metadata (EXIF, XMP, comments); "
            f"the limit is {limits.max_metadata_bytes / 1e6:,.1f} MB",
            metadata_bytes=carried,
        )
    with pillow_warnings() as caught:
        try:
            width, height, orientation, reduced = _decode(data, kind, limits)
        except Rejected:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise Rejected(f"the image is too large to open safely ({exc})", error=str(exc)) from exc
        except Exception as exc:  # Pillow's parsers raise many types on hostile input: all mean "unreadable"
            raise _unreadable(kind, exc) from exc
    noted = tuple(str(w.message) for w in caught)
    return Raster(kind, width, height, orientation, reduced, layout, noted)


@contextlib.contextmanager
def pillow_warnings() -> Iterator[list[warnings.WarningMessage]]:
    """Collect Pillow's warnings about a hostile file instead of letting them escape; a bomb warning raises.

    ``catch_warnings`` swaps process-wide filters, so concurrent threads may briefly see each
    other's; the worst case is a warning recorded here instead of logged, never a bomb let through
    (the pixel limit is checked from the header first).
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        yield caught


def _jpeg_layout(data: bytes) -> JpegLayout:
    try:
        return read_layout(data)
    except JpegError as exc:
        raise _unreadable("jpeg", exc) from exc


def _check_pixels(size: tuple[int, int], limit: int) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise Rejected(f"the image header declares an impossible size of {width}×{height} pixels")
    if width * height > limit:
        raise Rejected(
            f"the image is {width:,}×{height:,} pixels ({megapixels(width * height)} megapixels); "
            f"the limit is {megapixels(limit)} megapixels, so it was not decoded "
            "(it could be a decompression bomb)",
            width=width,
            height=height,
            limit_pixels=limit,
        )


def _unreadable(kind: str, exc: Exception) -> Rejected:
    message = str(exc) or type(exc).__name__
    label = kind.upper()
    if getattr(exc, "truncated", False) or "truncat" in message.lower() or isinstance(exc, EOFError):
        return Rejected(f"the {label} file is truncated: it ends before the image data does", error=message)
    return Rejected(f"the {label} file is corrupt and cannot be decoded", error=message)


def _decode(data: bytes, kind: str, limits: Limits) -> tuple[int, int, int, Image.Image]:
    formats = [PIL_FORMATS[kind]]  # only the sniffed format's plugin: no fallback to exotic parsers
    with Image.open(io.BytesIO(data), formats=formats) as probe:
        _check_pixels(probe.size, limits.max_pixels)  # TIFF sizes are first known here
        probe.verify()
    with Image.open(io.BytesIO(data), formats=formats) as image:
        width, height = image.size
        orientation = _orientation(image)
        reduced = _reduced_rgb(image, limits.reduced_side)
    transpose = _TRANSPOSE.get(orientation)
    if transpose is not None:
        reduced = reduced.transpose(transpose)
        if orientation >= 5:  # the four orientations that turn the picture by 90°
            width, height = height, width
    return width, height, orientation, reduced


def _orientation(image: Image.Image) -> int:
    try:
        value = image.getexif().get(_ORIENTATION_TAG, 1)
    except Exception:  # a damaged EXIF block must not make the picture unreadable
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _draft_scale(long_side: int, target: int) -> int:
    """The largest JPEG scale (1, 2, 4, 8) that still leaves at least 3/4 of ``target`` pixels."""
    for scale in (8, 4, 2):
        if long_side / scale >= 0.75 * target:
            return scale
    return 1


def _reduced_rgb(image: Image.Image, side: int) -> Image.Image:
    width, height = image.size
    if image.format == "JPEG":
        scale = _draft_scale(max(width, height), side)
        if scale > 1:
            image.draft("RGB", (math.ceil(width / scale), math.ceil(height / scale)))
    image.load()
    small = _reducible(image)
    factor = max(small.size) // side
    if factor >= 2:
        small = small.reduce(factor)
    if small.mode in ("RGBA", "LA"):  # transparent areas read as white paper, not black
        background = Image.new("RGBA", small.size, "white")
        small = Image.alpha_composite(background, small.convert("RGBA"))
    return small if small.mode == "RGB" else small.convert("RGB")


def _reducible(image: Image.Image) -> Image.Image:
    """The image in a mode ``reduce()`` accepts, with 16-bit and float samples scaled to 8 bits."""
    if image.mode in ("RGB", "L", "RGBA", "LA"):
        return image
    if image.mode in ("P", "PA") or "transparency" in image.info:
        return image.convert("RGBA")
    if image.mode.startswith("I") or image.mode == "F":
        import numpy as np  # only 16-bit and float images need it (see _deps.py)

        values = np.asarray(image, dtype=np.float64)
        top = float(values.max(initial=0.0)) or 1.0
        scale = 255.0 / (65535.0 if image.mode.startswith("I;16") else max(top, 255.0))
        return Image.fromarray(np.clip(values * scale, 0, 255).astype(np.uint8), "L")
    return image.convert("RGB")
