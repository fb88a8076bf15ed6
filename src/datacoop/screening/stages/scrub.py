"""Privacy scrub: the copy buyers get carries no location, device, time or other embedded metadata.

JPEGs, most uploads, are scrubbed losslessly by dropping every segment a decoder does
not need (EXIF, XMP, IPTC, comments, thumbnails, trailers; see ``_jpeg.py``): no pixel is
re-encoded, so it costs about a millisecond and loses nothing. A non-default EXIF
orientation is written back as the only tag. Other formats are re-encoded from their
pixels, upright (``ImageOps.exif_transpose``), keeping only the ICC colour profile.
The scrubbed bytes become a new blob beside the original: ``artifacts["scrubbed_cid"]``.

Settings (``rules.stages.scrub``): ``jpeg`` — ``"strip"`` (default) or ``"reencode"``
(also re-encode JPEGs, at ``jpeg_quality``, default 92).
"""

from __future__ import annotations

import io
from typing import Any, ClassVar

from PIL import Image, ImageOps

from datacoop.screening.base import ItemContext, StageResult, TaskView, Verdict
from datacoop.screening.stages._deps import require
from datacoop.screening.stages._jpeg import APP1, COM, JpegLayout, read_layout, strip_metadata
from datacoop.screening.stages._raster import PIL_FORMATS, pillow_warnings
from datacoop.tasks.rules import Modality

__all__ = ["ScrubStage", "metadata_found"]

require("scrub", "PIL")

_GPS_IFD, _EXIF_IFD = 0x8825, 0x8769
_MAKE, _MODEL, _DATETIME, _SOFTWARE = 0x010F, 0x0110, 0x0132, 0x0131
_EXIF_TIMES = (0x9003, 0x9004)  # DateTimeOriginal, DateTimeDigitized
_SERIALS = (0xA431, 0xA430)  # BodySerialNumber, CameraOwnerName
_OUTPUT = {
    "jpeg": "JPEG",
    "webp": "WEBP",
}  # everything else becomes PNG, which stores no metadata we don't add


def _text(value: object) -> str:
    raw = value.decode("latin-1") if isinstance(value, bytes) else str(value)
    return " ".join(raw.replace("\x00", " ").split())[:64]


def metadata_found(image: Image.Image, layout: JpegLayout | None, data: bytes) -> dict[str, Any]:
    """What identifying metadata the original carries: GPS, camera, times, XMP, IPTC, comments."""
    try:
        exif = image.getexif()
    except Exception:  # a damaged EXIF block is still removed; it just cannot be described
        exif = Image.Exif()
    extra = exif.get_ifd(_EXIF_IFD)
    make, model = (_text(exif.get(t) or "") for t in (_MAKE, _MODEL))
    camera = model if model.lower().startswith(make.lower()) else f"{make} {model}".strip()
    found: dict[str, Any] = {
        "exif": len(exif) > 0,
        "gps": bool(exif.get_ifd(_GPS_IFD)),
        "camera": camera or None,
        "capture_time": _DATETIME in exif or any(t in extra for t in _EXIF_TIMES),
        "serial_or_owner": any(t in extra for t in _SERIALS),
        "software": _text(exif[_SOFTWARE]) if exif.get(_SOFTWARE) else None,
        "xmp": bool(image.info.get("xmp")),
        "comment": bool(image.info.get("comment")),
        "icc_profile": bool(image.info.get("icc_profile")),
    }
    if layout is not None:
        pieces = layout.pieces
        xmp = any(p.marker == APP1 and b"ns.adobe.com/xap" in p.payload(data)[:64] for p in pieces)
        found["xmp"] = found["xmp"] or xmp
        found["iptc"] = any(p.marker == 0xED for p in pieces)
        found["comment"] = found["comment"] or any(p.marker == COM for p in pieces)
        found["trailing_bytes"] = len(data) - layout.end
    return found


def _summary(found: dict[str, Any]) -> str:
    parts = []
    if found.get("gps"):
        parts.append("the GPS location")
    if found.get("camera"):
        parts.append(f"the camera make and model ({found['camera']})")
    if found.get("capture_time"):
        parts.append("the capture time")
    if found.get("serial_or_owner"):
        parts.append("the camera serial number or owner")
    if not parts and (found.get("exif") or found.get("xmp") or found.get("iptc") or found.get("comment")):
        parts.append("embedded metadata")
    if not parts:
        return "no personal metadata was found; the shared copy is stored without any metadata"
    return "removed from the copy others receive: " + ", ".join(parts)


class ScrubStage:
    """Writes a metadata-free copy of the image as a new blob and says what was removed."""

    name: ClassVar[str] = "scrub"
    modalities: ClassVar[frozenset[Modality]] = frozenset({Modality.IMAGE})
    cost: ClassVar[int] = 20

    def run(self, item: ItemContext, task: TaskView) -> StageResult:
        kind = item.scratch.get("format")
        if kind not in PIL_FORMATS:
            return StageResult(self.name, Verdict.SKIPPED, ("the image was not decoded",))
        params = task.params(self.name)
        data = item.data()
        layout = item.scratch.get("jpeg_layout") if kind == "jpeg" else None
        if kind == "jpeg" and not isinstance(layout, JpegLayout):
            layout = read_layout(data)
        with pillow_warnings(), Image.open(io.BytesIO(data), formats=[PIL_FORMATS[kind]]) as image:
            found = metadata_found(image, layout, data)
            if layout is not None and params.get("jpeg", "strip") == "strip":
                scrubbed, method = (
                    strip_metadata(data, layout, int(item.scratch.get("orientation", 1))),
                    "strip",
                )
            else:
                scrubbed, method = _reencode(image, kind, int(params.get("jpeg_quality", 92))), "re-encode"
        cid = item.put_blob(scrubbed)
        item.scratch["scrubbed_cid"] = cid
        details = {**found, "method": method, "bytes_removed": len(data) - len(scrubbed)}
        return StageResult(
            self.name, Verdict.PASS, (_summary(found),), score=1.0, details=details,
            artifacts={"scrubbed_cid": cid},
        )  # fmt: skip


def _reencode(image: Image.Image, kind: str, quality: int) -> bytes:
    """The pixels alone, upright, with only the ICC profile kept."""
    icc = image.info.get("icc_profile")
    upright = ImageOps.exif_transpose(image)
    fmt = _OUTPUT.get(kind, "PNG")
    if fmt == "JPEG" and upright.mode not in ("RGB", "L", "CMYK"):
        upright = upright.convert("RGB")
    if fmt == "WEBP" and upright.mode not in ("RGB", "RGBA"):
        upright = upright.convert("RGBA")
    upright.info = {}  # nothing from the original may ride along into the encoder
    options: dict[str, Any] = {"icc_profile": icc} if icc else {}
    if fmt in ("JPEG", "WEBP"):
        options["quality"] = quality
    out = io.BytesIO()
    upright.save(out, fmt, **options)
    return out.getvalue()
