"""A JPEG byte stream as its segments, without decoding a pixel.

The decode stage uses the layout for the pixel size (SOF), the metadata it carries and
data hidden after the end; the scrub stage keeps only the segments a decoder needs and
so removes EXIF, XMP, IPTC, comments and trailers losslessly, in about a millisecond.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

from PIL import Image

__all__ = ["JpegError", "JpegLayout", "Piece", "read_layout", "strip_metadata"]

SOI, EOI, SOS, COM, APP0, APP1, APP2, APP14 = 0xD8, 0xD9, 0xDA, 0xFE, 0xE0, 0xE1, 0xE2, 0xEE
ENTROPY = -1  # the compressed data after an SOS header; not a marker
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM and RSTn carry no length
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# What a decoder needs; everything else (APPn, COM, reserved markers, trailers) can go.
_DECODER_MARKERS = frozenset({SOI, EOI, SOS, ENTROPY, 0xDB, 0xC4, 0xCC, 0xDD, 0xDC, 0xDE, 0xDF} | _SOF)
# A marker inside entropy-coded data: 0xFF not followed by a stuffed 0x00, a restart marker or fill.
_SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_ORIENTATION_TAG = 0x0112


class JpegError(ValueError):
    """The byte stream is not a well-formed JPEG (``truncated`` says whether it just stops early)."""

    def __init__(self, message: str, *, truncated: bool = False) -> None:
        super().__init__(message)
        self.truncated = truncated


@dataclass(frozen=True)
class Piece:
    marker: int  # the segment's marker byte, or ENTROPY
    start: int
    end: int

    def payload(self, data: bytes) -> bytes:
        """The segment's bytes after its marker and length."""
        return data[self.start + 4 : self.end]


@dataclass(frozen=True)
class JpegLayout:
    pieces: tuple[Piece, ...]  # contiguous from SOI to EOI
    size: tuple[int, int] | None  # (width, height) from the first SOF
    end: int  # offset just after EOI

    def metadata_bytes(self) -> int:
        """Bytes in APPn and COM segments: EXIF, XMP, IPTC, ICC, thumbnails, comments."""
        return sum(p.end - p.start for p in self.pieces if p.marker == COM or 0xE0 <= p.marker <= 0xEF)


def read_layout(data: bytes) -> JpegLayout:
    """Walk the segments of a JPEG; raises :class:`JpegError` for anything malformed or cut short."""
    if not data.startswith(b"\xff\xd8"):
        raise JpegError("it does not start with a JPEG start-of-image marker")
    pieces, pos, size = [Piece(SOI, 0, 2)], 2, None
    while pos < len(data):
        if data[pos] != 0xFF:
            raise JpegError(f"byte {pos:,} should start a segment but does not")
        while pos + 1 < len(data) and data[pos + 1] == 0xFF:
            pos += 1  # fill bytes may precede a marker
        if pos + 1 >= len(data):
            break
        marker = data[pos + 1]
        if marker == EOI:
            pieces.append(Piece(EOI, pos, pos + 2))
            return JpegLayout(tuple(pieces), size, pos + 2)
        piece = _segment(data, pos, marker)
        pieces.append(piece)
        pos = piece.end
        if marker in _SOF and size is None and piece.end - piece.start >= 9:
            height, width = struct.unpack_from(">HH", data, piece.start + 5)
            size = (width, height)
        if marker == SOS:
            pos = _skip_scan(data, pos, pieces)
    raise JpegError("the data ends before the end-of-image marker", truncated=True)


def _segment(data: bytes, pos: int, marker: int) -> Piece:
    if marker in _STANDALONE:
        return Piece(marker, pos, pos + 2)
    if pos + 4 > len(data):
        raise JpegError("the data ends inside a segment header", truncated=True)
    (length,) = struct.unpack_from(">H", data, pos + 2)
    if length < 2:
        raise JpegError(f"segment 0xFF{marker:02X} at byte {pos:,} has an impossible length")
    if pos + 2 + length > len(data):
        raise JpegError(f"segment 0xFF{marker:02X} runs past the end of the file", truncated=True)
    return Piece(marker, pos, pos + 2 + length)


def _skip_scan(data: bytes, pos: int, pieces: list[Piece]) -> int:
    found = _SCAN_END.search(data, pos)
    if found is None:
        raise JpegError("the compressed image data stops without an end marker", truncated=True)
    pieces.append(Piece(ENTROPY, pos, found.start()))
    return found.start()


def _needed(piece: Piece, data: bytes) -> bool:
    if piece.marker in _DECODER_MARKERS or piece.marker in _STANDALONE:
        return True
    payload = piece.payload(data)
    if piece.marker == APP2:  # colour matters; APP2 also holds FlashPix/MPF extra pictures, which go
        return payload.startswith(b"ICC_PROFILE\x00")
    # Adobe's APP14 says how to read CMYK/RGB colour; it holds no personal data.
    return piece.marker == APP14 and payload.startswith(b"Adobe")


def strip_metadata(data: bytes, layout: JpegLayout, orientation: int = 1) -> bytes:
    """The JPEG with only what a decoder needs: lossless, pixels untouched.

    EXIF, XMP, IPTC, comments, JFIF thumbnails, extra MPF pictures and anything after the
    end marker are dropped. A non-default EXIF ``orientation`` is written back alone, so
    viewers still show the picture upright without any other tag surviving.
    """
    parts = [data[p.start : p.end] for p in layout.pieces if _needed(p, data)]
    if orientation != 1:
        parts.insert(1, _orientation_segment(orientation))
    return b"".join(parts)


def _orientation_segment(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[_ORIENTATION_TAG] = orientation
    body = exif.tobytes()  # "Exif\0\0" + a TIFF header + one IFD entry
    return b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body
