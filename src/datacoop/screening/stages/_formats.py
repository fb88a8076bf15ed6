"""What a file really is, from its first bytes: never from its name or the client's MIME type.

:func:`sniff` names images and audio DataCoop can screen, and the things most often
disguised as them (HTML, SVG, scripts, archives, executables), so a rejection can say
what the file actually is. :func:`find_markup` finds HTML hidden anywhere in a file
(polyglots), and :func:`header_size` reads an image's pixel size from its header alone,
before any decoder sees the file.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

from datacoop.tasks.rules import Modality

__all__ = ["Sniffed", "find_markup", "header_size", "sniff"]


@dataclass(frozen=True)
class Sniffed:
    """The sniffed kind: a short name (``"jpeg"``), its modality if screenable, and a phrase for reasons."""

    kind: str
    modality: Modality | None
    label: str


_IMAGE_PREFIXES: tuple[tuple[bytes, str, str], ...] = (
    (b"\xff\xd8\xff", "jpeg", "a JPEG image"),
    (b"\x89PNG\r\n\x1a\n", "png", "a PNG image"),
    (b"GIF87a", "gif", "a GIF image"),
    (b"GIF89a", "gif", "a GIF image"),
    (b"II*\x00", "tiff", "a TIFF image"),
    (b"MM\x00*", "tiff", "a TIFF image"),
)
_AUDIO_PREFIXES: tuple[tuple[bytes, str, str], ...] = (
    (b"fLaC", "flac", "a FLAC recording"),
    (b"OggS", "ogg", "an Ogg recording"),
    (b"ID3", "mp3", "an MP3 recording"),
)
_OTHER_PREFIXES: tuple[tuple[bytes, str, str], ...] = (
    (b"%PDF-", "pdf", "a PDF document"),
    (b"PK\x03\x04", "zip", "a ZIP archive"),
    (b"\x1f\x8b", "gzip", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "7z", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "rar", "a RAR archive"),
    (b"\x7fELF", "elf", "a Linux program (ELF executable)"),
    (b"#!", "script", "a shell script"),
    (b"<?php", "php", "a PHP script"),
)
# The DIB header sizes a real BMP declares: "BM" alone would also match text starting "BM…".
_BMP_DIB_SIZES = frozenset({12, 40, 52, 56, 64, 108, 124})
_ACTIVE_TAGS = frozenset({"script", "iframe", "object", "embed", "?php"})
_MARKUP_TAGS = (b"script", b"html", b"body", b"svg", b"iframe", b"object", b"embed", b"meta", b"?php")


def _caseless(word: bytes) -> bytes:
    # Character classes, not re.IGNORECASE: this scan reads whole files and runs ~1.6 times faster so.
    return b"".join(
        b"[%c%c]" % (c, c ^ 0x20) if chr(c).isalpha() else re.escape(bytes([c])) for c in word.lower()
    )


_MARKUP = re.compile(rb"<(" + b"|".join(_caseless(t) for t in _MARKUP_TAGS) + rb")[\s>/]")


def sniff(data: bytes) -> Sniffed:
    """Name the format of ``data`` from its magic bytes."""
    if not data:
        return Sniffed("empty", None, "an empty file")
    for table, modality in ((_IMAGE_PREFIXES, Modality.IMAGE), (_AUDIO_PREFIXES, Modality.AUDIO)):
        for prefix, kind, label in table:
            if data.startswith(prefix):
                return Sniffed(kind, modality, label)
    riff = _sniff_riff(data) or _sniff_bmp(data) or _sniff_mpeg_audio(data)
    if riff is not None:
        return riff
    for prefix, kind, label in _OTHER_PREFIXES:
        if data.startswith(prefix):
            return Sniffed(kind, None, label)
    return _sniff_textual(data)


def _sniff_riff(data: bytes) -> Sniffed | None:
    if data[:4] != b"RIFF" or len(data) < 12:
        return None
    if data[8:12] == b"WEBP":
        return Sniffed("webp", Modality.IMAGE, "a WebP image")
    if data[8:12] == b"WAVE":
        return Sniffed("wav", Modality.AUDIO, "a WAV recording")
    return Sniffed("riff", None, "a RIFF container (neither WebP nor WAV)")


def _sniff_bmp(data: bytes) -> Sniffed | None:
    if data[:2] != b"BM" or len(data) < 18:
        return None
    (dib_size,) = struct.unpack_from("<I", data, 14)
    return Sniffed("bmp", Modality.IMAGE, "a BMP image") if dib_size in _BMP_DIB_SIZES else None


def _sniff_mpeg_audio(data: bytes) -> Sniffed | None:
    # An MPEG audio frame starts with 11 set sync bits; layer bits 00 are reserved, so they rule it out.
    if len(data) >= 2 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0 and data[1] & 0x06:
        return Sniffed("mp3", Modality.AUDIO, "an MP3 recording")
    return None


def _sniff_textual(data: bytes) -> Sniffed:
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<svg", b"<?xml")) and b"<svg" in head:
        return Sniffed("svg", None, "an SVG drawing (XML that can carry scripts)")
    if head.startswith(b"<?xml"):
        return Sniffed("xml", None, "an XML document")
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<script", b"<!--")):
        return Sniffed("html", None, "an HTML document")
    if b"\x00" not in data[:1024]:
        return Sniffed("text", Modality.TEXT, "plain text")
    return Sniffed("unknown", None, "a file of an unrecognised format")


def find_markup(data: bytes, *, active_only: bool = False) -> str | None:
    """The most telling HTML/SVG/PHP tag anywhere in ``data`` (``"<script>"`` before ``"<html>"``), or None.

    ``active_only`` ignores tags that hold no code (``<html>``, ``<svg>``, ``<body>``, ``<meta>``).
    """
    seen: list[str] = []
    for match in _MARKUP.finditer(data):
        tag = match.group(1).decode("ascii").lower()
        if tag in _ACTIVE_TAGS:
            return f"<{tag}>"
        if len(seen) >= 16:
            break
        seen.append(tag)
    return None if active_only or not seen else f"<{seen[0]}>"


def header_size(kind: str, data: bytes) -> tuple[int, int] | None:
    """(width, height) read from the header of a PNG, GIF, BMP or WebP file; None if not readable here.

    JPEG sizes come from its SOF segment (see ``_jpeg.py``) and TIFF's from Pillow's header parse.
    """
    try:
        if kind == "png" and data[12:16] == b"IHDR":
            width, height = struct.unpack_from(">II", data, 16)
            return width, height
        if kind == "gif":
            width, height = struct.unpack_from("<HH", data, 6)
            return width, height
        if kind == "bmp":
            width, height = struct.unpack_from("<ii", data, 18)
            return abs(width), abs(height)  # a negative height means top-down rows
        if kind == "webp":
            return _webp_size(data)
    except struct.error:
        return None
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X":  # extended: 24-bit canvas size minus one
        width = int.from_bytes(data[24:27], "little") + 1
        return width, int.from_bytes(data[27:30], "little") + 1
    if chunk == b"VP8L":  # lossless: 14-bit fields after the 0x2f signature
        (bits,) = struct.unpack_from("<I", data, 21)
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 ":  # lossy: key-frame header, 14-bit fields
        width, height = struct.unpack_from("<HH", data, 26)
        return width & 0x3FFF, height & 0x3FFF
    return None
