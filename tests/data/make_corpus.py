"""Generate DataCoop's bad-input corpus: files that pre-screening must refuse, or flag, with a clear reason.

Usage: ``python tests/data/make_corpus.py [FOLDER]`` (default ``tests/data/corpus/``, which
git ignores). It writes one file per case and ``manifest.json`` (name, file, modality,
task rules, what the file is). Tests call :func:`write` into a temporary folder instead.

Everything is made here from numbers: a synthetic scene drawn with Pillow stands in for a
photo. The one exception is the face: Haar cascades rarely fire on drawings, so the face
case uses ``astronaut.png`` (Eileen Collins, a NASA public-domain portrait) that ships
inside scikit-image (``skimage/data/``); it is read as a file, scikit-image is not imported.
"""

from __future__ import annotations

import importlib.util
import io
import json
import math
import struct
import sys
import wave
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

DEFAULT_FOLDER = Path(__file__).resolve().parent / "corpus"


@dataclass(frozen=True)
class Case:
    name: str
    filename: str  # the name a contributor might give it; never trusted
    modality: str
    make: Callable[[], bytes]
    about: str
    rules: dict[str, Any] = field(default_factory=dict)  # AcceptanceRules fields, plus "stages"


# --- images ---------------------------------------------------------------------------------


def scene(size: tuple[int, int] = (1024, 768), seed: int = 7) -> Image.Image:
    """A deterministic stand-in for a photo: shapes with crisp edges, gradients and sensor-like noise."""
    rng = np.random.default_rng(seed)
    width, height = size
    ramp = np.linspace(60, 190, width, dtype=np.float32)[None, :, None]
    canvas = Image.fromarray((ramp * np.ones((height, 1, 3), np.float32)).astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    for _ in range(40):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        w, h = int(rng.integers(20, width // 4)), int(rng.integers(20, height // 4))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape((x, y, x + w, y + h), fill=colour, outline=(0, 0, 0), width=2)
    noisy = np.asarray(canvas, np.float32) + rng.normal(0, 4, (height, width, 3))
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def encode(image: Image.Image, fmt: str = "JPEG", **options: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def astronaut() -> Image.Image:
    """The face sample shipped inside scikit-image."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the face case needs scikit-image installed (it ships astronaut.png)")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "astronaut.png"
    with Image.open(path) as image:
        return image.convert("RGB")


def png_bomb(side: int = 50_000) -> bytes:
    """A 1-bit grayscale PNG of side×side pixels, all zero: ~300 KB on disk, 2.5 GB as a raster."""
    row = b"\x00" * (1 + math.ceil(side / 8))  # filter byte + packed bits
    packer, idat, block = zlib.compressobj(9), bytearray(), row * 1000
    for _ in range(side // 1000):
        idat += packer.compress(block)
    idat += packer.compress(row * (side % 1000)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", bytes(idat)) + _chunk(b"IEND", b"")


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def jpeg_bomb(side: int = 65_000) -> bytes:
    """A tiny JPEG whose frame header (SOF0) claims side×side pixels."""
    data = bytearray(encode(Image.new("RGB", (16, 16), "gray")))
    sof = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, side, side)  # SOF: length, precision, height, width
    return bytes(data)


def tiff_bomb(side: int = 50_000) -> bytes:
    """A TIFF whose first IFD claims side×side 1-bit pixels; only Pillow's header parse sees its size."""
    data_at = 8 + 2 + 9 * 12 + 4  # header, entry count, nine entries, next-IFD offset
    entries = [(256, 4, side), (257, 4, side), (258, 3, 1), (259, 3, 1), (262, 3, 1),
               (273, 4, data_at), (277, 3, 1), (278, 4, side), (279, 4, side * side // 8)]  # fmt: skip
    ifd = struct.pack("<H", len(entries))
    for tag, kind, value in entries:
        ifd += struct.pack("<HHI", tag, kind, 1) + (
            struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value)
        )
    return b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0) + b"\x00" * 64


def with_segments(jpeg: bytes, segments: list[bytes]) -> bytes:
    """``jpeg`` with extra segments (marker + payload) inserted after its start-of-image marker."""
    # A segment's length field counts its payload plus the two length bytes: len(marker + payload).
    packed = b"".join(s[:2] + struct.pack(">H", len(s)) + s[2:] for s in segments)
    return jpeg[:2] + packed + jpeg[2:]


def huge_exif_jpeg() -> bytes:
    """A small JPEG dragging 1.4 MB of metadata: a full EXIF segment and twenty XMP extension segments."""
    exif = Image.Exif()
    exif[0x927C] = b"M" * 60_000  # MakerNote
    base = encode(scene((320, 240)), exif=exif.tobytes())
    xmp = [b"\xff\xe1" + b"http://ns.adobe.com/xmp/extension/\x00" + b"x" * 65_000 for _ in range(20)]
    return with_segments(base, xmp)


def gps_jpeg() -> bytes:
    """A photo carrying what phones write: GPS position, camera make/model, capture time, serial number."""
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0132] = "Canon", "Canon EOS 5D Mark IV", "2024:05:01 12:34:56"
    exif[0x8769] = {0x9003: "2024:05:01 12:34:56", 0xA431: "0123456789"}
    exif[0x8825] = {1: "N", 2: (52.0, 22.0, 12.5), 3: "E", 4: (4.0, 53.0, 41.0)}
    return encode(scene(), exif=exif.tobytes(), quality=90)


def polyglot_jpeg() -> bytes:
    html = b"<html><body><script>alert(document.domain)</script><!--"
    return with_segments(encode(scene((320, 240))), [b"\xff\xfe" + html]) + b"-->"


# --- audio and text -------------------------------------------------------------------------


def wav(seconds: float, *, rate: int = 8_000, amplitude: float = 0.25) -> bytes:
    """A 16-bit mono WAV: a 440 Hz tone at ``amplitude`` of full scale (0 gives silence)."""
    t = np.arange(int(seconds * rate)) / rate
    samples = (amplitude * 32767 * np.sin(2 * np.pi * 440 * t)).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return out.getvalue()


TEXT = (
    "The quick brown fox jumps over the lazy dog. This is a plain English sentence for the test, "
    "and it is long enough to be judged on what it says rather than on its length alone."
)


HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
ELF = b"\x7fELF\x02\x01\x01" + bytes(57)


def _disguise_cases(jpeg: bytes, png: bytes) -> list[Case]:
    return [
        Case("png_bomb", "bomb.png", "image", png_bomb, "50,000×50,000 PNG, tiny on disk"),
        Case("jpeg_bomb", "bomb.jpg", "image", jpeg_bomb, "JPEG whose header claims 65,000×65,000"),
        Case("tiff_bomb", "bomb.tif", "image", tiff_bomb, "TIFF whose IFD claims 50,000×50,000"),
        Case("truncated_jpeg", "cut.jpg", "image", lambda: jpeg[: len(jpeg) // 2], "JPEG cut in half"),
        Case("truncated_png", "cut.png", "image", lambda: png[: len(png) * 3 // 5], "PNG cut inside IDAT"),
        Case("zero_bytes", "empty.jpg", "image", lambda: b"", "an empty file"),
        Case("html_as_jpeg", "photo.jpg", "image", lambda: HTML, "HTML with a script, named .jpg"),
        Case("svg_as_jpeg", "photo.jpg", "image", lambda: SVG, "SVG with a script, named .jpg"),
        Case("elf_as_jpeg", "photo.jpg", "image", lambda: ELF, "an executable"),
        Case("polyglot_jpeg_html", "photo.jpg", "image", polyglot_jpeg, "valid JPEG with HTML in a comment"),
        Case("huge_exif", "photo.jpg", "image", huge_exif_jpeg, "JPEG with 1.4 MB of EXIF/XMP"),
        Case("png_named_jpg_refused", "photo.jpg", "image", lambda: png, "PNG named .jpg; task takes JPEG",
             {"allowed_formats": ["jpeg"]}),
        Case("png_named_jpg_accepted", "photo.jpg", "image", lambda: png, "PNG named .jpg; PNG allowed"),
    ]  # fmt: skip


def _content_cases(photo: Image.Image) -> list[Case]:
    grey = Image.new("RGB", (800, 600), (128, 128, 128))
    return [
        Case("gps_jpeg", "holiday.jpg", "image", gps_jpeg, "JPEG with GPS, camera and time EXIF"),
        Case("too_small", "small.jpg", "image", lambda: encode(scene((640, 480))), "640×480 photo",
             {"min_width": 1024, "min_height": 768}),
        Case("dark", "dark.jpg", "image", lambda: encode(photo.point(lambda v: v // 25)), "very dark photo"),
        Case("blurred", "blur.jpg", "image", lambda: encode(photo.filter(ImageFilter.GaussianBlur(8))),
             "strongly blurred photo"),
        Case("blank", "blank.png", "image", lambda: encode(grey, "PNG"), "one flat grey"),
        Case("face_review", "me.jpg", "image", lambda: encode(astronaut()), "portrait; default policy"),
        Case("face_reject", "me.jpg", "image", lambda: encode(astronaut()), "portrait; task rejects faces",
             {"stages": {"pii": {"faces": "reject"}}}),
    ]  # fmt: skip


def _text_and_audio_cases(png: bytes, jpeg: bytes) -> list[Case]:
    latin1 = "Café crème, déjà vu, naïve façade.".encode("latin-1")
    pii = (TEXT + " Write to jane.doe@example.org or call +1 415-555-0132.").encode()
    return [
        Case("latin1_text", "notes.txt", "text", lambda: latin1, "Latin-1 text"),
        Case("too_long_text", "book.txt", "text", lambda: ("word " * 25_000).encode(), "125,000 characters"),
        Case("png_as_text", "notes.txt", "text", lambda: png, "PNG uploaded to a text task"),
        Case("text_with_pii", "notes.txt", "text", lambda: pii, "an email address and a phone number"),
        Case("zero_second_wav", "clip.wav", "audio", lambda: wav(0), "WAV with no frames"),
        Case("too_long_wav", "clip.wav", "audio", lambda: wav(10), "10 s WAV; task takes 5 s",
             {"max_duration_s": 5}),
        Case("truncated_wav", "clip.wav", "audio", lambda: wav(2)[: len(wav(2)) // 2], "WAV cut in half"),
        Case("silent_wav", "clip.wav", "audio", lambda: wav(2, amplitude=0), "2 s of digital silence"),
        Case("jpeg_as_audio", "clip.wav", "audio", lambda: jpeg, "JPEG uploaded to an audio task"),
    ]  # fmt: skip


def _cases() -> list[Case]:
    photo = scene()
    jpeg, png = encode(photo, quality=90), encode(photo, "PNG")
    return _disguise_cases(jpeg, png) + _content_cases(photo) + _text_and_audio_cases(png, jpeg)


CASES = _cases()


def write(folder: Path) -> dict[str, Path]:
    """Write each case into ``folder`` as ``<name>__<filename>``, and ``manifest.json``; return the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths, manifest = {}, []
    for case in CASES:
        path = folder / f"{case.name}__{case.filename}"
        path.write_bytes(case.make())
        paths[case.name] = path
        manifest.append({"name": case.name, "file": path.name, "modality": case.modality,
                         "rules": case.rules, "about": case.about, "bytes": path.stat().st_size})  # fmt: skip
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return paths


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_FOLDER
    for name, written in write(target).items():
        print(f"{name:26} {written.stat().st_size:>12,} bytes  {written}")
