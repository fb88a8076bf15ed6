"""Decode and limits: what the file really is, whether it is safe and whole, and a small copy to analyse.

Settings (``rules.stages.decode``), with defaults:

- ``max_pixels`` (50,000,000): larger images are refused from their header, never decoded;
- ``max_metadata_bytes`` (1,000,000): EXIF/XMP/comment bytes a JPEG may carry;
- ``reduced_side`` (1024): long side of the reduced RGB copy later stages analyse;
- ``max_text_chars`` (100,000) and ``max_duration_s`` (3,600, unless the task's
  ``max_duration_s`` rule says otherwise).

The task's rules supply ``max_bytes``, ``allowed_formats`` and ``min_text_chars``.
What later stages need goes into ``item.scratch``: ``format``, and for images ``width``,
``height`` (as displayed), ``orientation``, ``image`` (the reduced RGB copy) and
``jpeg_layout``; for text ``text``; for audio ``duration_s``, ``sample_rate``, ``channels``.
"""

from __future__ import annotations

import codecs
from collections.abc import Mapping
from typing import Any, ClassVar

from datacoop.screening.base import ItemContext, StageResult, TaskView, Verdict
from datacoop.screening.stages._audio import AudioError, read_info
from datacoop.screening.stages._deps import require
from datacoop.screening.stages._formats import Sniffed, find_markup, sniff
from datacoop.screening.stages._raster import Limits, Rejected, decode_image, megapixels
from datacoop.tasks.rules import Modality

__all__ = ["DecodeStage"]

require("decode", "PIL", "numpy", "mutagen")

FORMATS = {
    Modality.IMAGE: ("jpeg", "png", "webp", "gif", "tiff", "bmp"),
    Modality.AUDIO: ("wav", "flac", "ogg", "mp3"),
}
_ALIASES = {"jpg": "jpeg", "tif": "tiff", "oga": "ogg", "opus": "ogg", "wave": "wav"}
_ARTICLE = {Modality.IMAGE: "an image", Modality.AUDIO: "a recording", Modality.TEXT: "text"}


def _fail(reason: str, **details: Any) -> StageResult:
    return StageResult(DecodeStage.name, Verdict.FAIL, (reason,), score=0.0, details=details)


def _human_bytes(count: int) -> str:
    return f"{count:,} bytes" if count < 1_000_000 else f"{count / 1e6:,.1f} MB"


class DecodeStage:
    """Sniffs the real format, refuses unsafe or broken files, and decodes once for the stages after it."""

    name: ClassVar[str] = "decode"
    modalities: ClassVar[frozenset[Modality]] = frozenset(Modality)
    cost: ClassVar[int] = 10

    def run(self, item: ItemContext, task: TaskView) -> StageResult:
        data = item.data()
        if not data:
            return _fail("the file is empty (0 bytes)", size=0)
        max_bytes = task.rules.get("max_bytes")
        if max_bytes and len(data) > int(max_bytes):
            return _fail(
                f"the file is {_human_bytes(len(data))}; this task accepts at most {_human_bytes(max_bytes)}",
                size=len(data),
            )
        params = task.params(self.name)
        if task.modality is Modality.TEXT:
            return self._text(item, task, params)
        sniffed = sniff(data)
        problem = _check_kind(sniffed, task, data) or _check_markup(data, sniffed)
        if problem is not None:
            return problem
        item.scratch["format"] = sniffed.kind
        if task.modality is Modality.AUDIO:
            return self._audio(item, task, params, sniffed)
        return self._image(item, params, sniffed)

    def _image(self, item: ItemContext, params: Mapping[str, Any], sniffed: Sniffed) -> StageResult:
        limits = Limits(
            max_pixels=int(params.get("max_pixels", 50_000_000)),
            max_metadata_bytes=int(params.get("max_metadata_bytes", 1_000_000)),
            reduced_side=int(params.get("reduced_side", 1024)),
        )
        try:
            raster = decode_image(item.data(), sniffed.kind, limits)
        except Rejected as rejected:
            return _fail(rejected.reason, format=sniffed.kind, **rejected.details)
        item.scratch.update(
            width=raster.width, height=raster.height, orientation=raster.orientation,
            image=raster.reduced, jpeg_layout=raster.layout,
        )  # fmt: skip
        details: dict[str, Any] = {
            "format": raster.format, "width": raster.width, "height": raster.height,
            "megapixels": megapixels(raster.width * raster.height), "analysed_at": list(raster.reduced.size),
        }  # fmt: skip
        if raster.warnings:
            details["decoder_warnings"] = list(raster.warnings)
        return StageResult(self.name, Verdict.PASS, score=1.0, details=details)

    def _audio(
        self, item: ItemContext, task: TaskView, params: Mapping[str, Any], sniffed: Sniffed
    ) -> StageResult:
        label = sniffed.kind.upper()
        try:
            info = read_info(sniffed.kind, item.data())
        except AudioError as exc:
            if exc.truncated:
                return _fail(f"the {label} file is truncated: it ends before its sound data does")
            return _fail(f"the {label} file is corrupt and cannot be read", error=str(exc))
        limit = float(task.rules.get("max_duration_s") or params.get("max_duration_s", 3600))
        if info.duration_s <= 0:
            return _fail("the recording is empty (0 seconds of sound)", format=sniffed.kind)
        if info.duration_s > limit:
            return _fail(
                f"the recording lasts {info.duration_s:,.1f} s; this task accepts at most {limit:,g} s",
                duration_s=info.duration_s,
            )
        item.scratch.update(duration_s=info.duration_s, sample_rate=info.sample_rate, channels=info.channels)
        details = {
            "format": info.format,
            "duration_s": round(info.duration_s, 3),
            "sample_rate": info.sample_rate,
        }
        return StageResult(self.name, Verdict.PASS, score=1.0, details=details)

    def _text(self, item: ItemContext, task: TaskView, params: Mapping[str, Any]) -> StageResult:
        data = item.data().removeprefix(codecs.BOM_UTF8)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            return _not_utf8(data, exc)
        if "\x00" in text:
            return _fail("the file contains NUL bytes: it is binary data, not text")
        chars = len(text.strip())
        minimum = int(task.rules.get("min_text_chars") or 0)
        maximum = int(params.get("max_text_chars", 100_000))
        if chars < minimum:
            return _fail(
                f"the text has {chars:,} characters; this task needs at least {minimum:,}", chars=chars
            )
        if chars > maximum:
            return _fail(f"the text has {chars:,} characters; the limit is {maximum:,}", chars=chars)
        item.scratch.update(format="text", text=text)
        return StageResult(self.name, Verdict.PASS, score=1.0, details={"format": "text", "chars": chars})


def _allowed(task: TaskView, modality: Modality) -> tuple[str, ...]:
    """The task's allowed formats of this modality; all of them when the task names none."""
    named = [_ALIASES.get(str(f).lower(), str(f).lower()) for f in task.rules.get("allowed_formats") or ()]
    family = FORMATS[modality]
    return tuple(f for f in named if f in family) or family


def _check_kind(sniffed: Sniffed, task: TaskView, data: bytes) -> StageResult | None:
    if sniffed.modality is not task.modality:
        tag = find_markup(data[:65_536], active_only=True) if sniffed.modality is None else None
        what = f"{sniffed.label} with a {tag} tag" if tag else sniffed.label
        return _fail(f"the file is {what}, not {_ARTICLE[task.modality]}", sniffed=sniffed.kind)
    allowed = _allowed(task, task.modality)
    if sniffed.kind not in allowed:
        accepted = ", ".join(f.upper() for f in allowed)
        return _fail(f"the file is {sniffed.label}; this task accepts only {accepted}", sniffed=sniffed.kind)
    return None


def _check_markup(data: bytes, sniffed: Sniffed) -> StageResult | None:
    tag = find_markup(data)
    if tag is None:
        return None
    return _fail(
        f"the file is {sniffed.label} with an HTML document ({tag} tag) hidden inside it (a polyglot file)",
        sniffed=sniffed.kind,
        markup=tag,
    )


def _not_utf8(data: bytes, exc: UnicodeDecodeError) -> StageResult:
    sniffed = sniff(data)
    if sniffed.kind not in ("text", "unknown"):
        return _fail(f"the file is {sniffed.label}, not text", sniffed=sniffed.kind)
    return _fail(
        f"the text is not valid UTF-8 (byte 0x{data[exc.start]:02X} at position {exc.start:,}); "
        "save it as UTF-8 and upload it again",
        position=exc.start,
    )
