"""The decode stage: format sniffing, header sizes, limits, the reduced copy, and hostile bytes."""

from __future__ import annotations

import io
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from tests.data.make_corpus import encode, scene, wav
from tests.unit.screening.items import make_item, make_task

from datacoop.screening.base import Verdict
from datacoop.screening.stages._formats import header_size, sniff
from datacoop.screening.stages._jpeg import JpegError, read_layout
from datacoop.screening.stages.decode import DecodeStage
from datacoop.tasks.rules import Modality

PHOTO = scene((400, 300))
SAMPLES = {
    "jpeg": encode(PHOTO, "JPEG"),
    "png": encode(PHOTO, "PNG"),
    "gif": encode(PHOTO.convert("P"), "GIF"),
    "webp": encode(PHOTO, "WEBP"),
    "webp-lossless": encode(PHOTO, "WEBP", lossless=True),
    "tiff": encode(PHOTO, "TIFF"),
    "bmp": encode(PHOTO, "BMP"),
}


def decode(data: bytes, modality: str = "image", **rules: object) -> tuple[Verdict, str, dict[str, object]]:
    item = make_item(data)
    result = DecodeStage().run(item, make_task(modality, **rules))
    return result.verdict, " ".join(result.reasons), item.scratch


@pytest.mark.parametrize("name", SAMPLES)
def test_every_image_format_is_sniffed_sized_and_decoded(name: str) -> None:
    data = SAMPLES[name]
    kind = name.split("-")[0]

    verdict, reason, scratch = decode(data)

    assert sniff(data).kind == kind
    assert verdict is Verdict.PASS, reason
    assert (scratch["width"], scratch["height"]) == (400, 300)
    assert isinstance(scratch["image"], Image.Image) and scratch["image"].mode == "RGB"
    if kind != "jpeg" and kind != "tiff":
        assert header_size(kind, data) == (400, 300)


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "wav"),
        (b"fLaC\x00\x00\x00\x22", "flac"),
        (b"OggS\x00\x02", "ogg"),
        (b"ID3\x04\x00", "mp3"),
        (b"\xff\xfb\x90\x00", "mp3"),
        (b"%PDF-1.7\n", "pdf"),
        (b"PK\x03\x04\x14\x00", "zip"),
        (b"#!/bin/sh\nrm -rf /\n", "script"),
        (b"<?php echo 1; ?>", "php"),
        (b"\xef\xbb\xbf  <!doctype html><p>hi", "html"),
        (b"BMW makes cars.", "text"),  # "BM" alone is not a bitmap
        (b"\x00\x01\x02\x03", "unknown"),
    ],
)
def test_sniffing_names_what_a_file_really_is(head: bytes, kind: str) -> None:
    assert sniff(head).kind == kind


def test_jpeg_draft_decodes_at_reduced_size_with_orientation_applied() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90° clockwise: stored landscape, shown portrait
    data = encode(scene((4000, 3000)), exif=exif.tobytes())

    verdict, _, scratch = decode(data)

    assert verdict is Verdict.PASS
    assert (scratch["width"], scratch["height"]) == (3000, 4000)
    assert scratch["image"].size == (750, 1000)  # the decoder's 1/4 scale, upright


def test_pixel_limit_is_a_task_setting_and_checked_before_decoding() -> None:
    verdict, reason, _ = decode(SAMPLES["png"], stages={"decode": {"max_pixels": 100_000}})

    assert verdict is Verdict.FAIL
    assert "400×300 pixels (0.1 megapixels); the limit is 0.1 megapixels" in reason


def test_allowed_formats_accept_aliases_and_name_the_real_format() -> None:
    assert decode(SAMPLES["jpeg"], allowed_formats=["jpg"])[0] is Verdict.PASS
    verdict, reason, _ = decode(SAMPLES["gif"], allowed_formats=["jpg", "png"])
    assert (verdict, reason) == (Verdict.FAIL, "the file is a GIF image; this task accepts only JPEG, PNG")


def test_max_bytes_from_the_rules() -> None:
    verdict, reason, _ = decode(SAMPLES["png"], max_bytes=10_000)

    assert verdict is Verdict.FAIL
    assert reason == f"the file is {len(SAMPLES['png']):,} bytes; this task accepts at most 10,000 bytes"


def test_a_jpeg_with_a_fake_end_marker_is_still_walked() -> None:
    data = SAMPLES["jpeg"]
    layout = read_layout(data)
    assert layout.size == (400, 300) and layout.end == len(data)
    with pytest.raises(JpegError) as cut:
        read_layout(data[:-100])
    assert cut.value.truncated


@pytest.mark.parametrize(
    ("text", "rules", "verdict", "words"),
    [
        ("\ufeffHello, world: a BOM is fine.", {}, Verdict.PASS, ""),
        (
            "short",
            {"min_text_chars": 50},
            Verdict.FAIL,
            "the text has 5 characters; this task needs at least 50",
        ),
        ("nul\x00inside", {}, Verdict.FAIL, "NUL bytes"),
    ],
)
def test_text_limits(text: str, rules: dict[str, object], verdict: Verdict, words: str) -> None:
    got, reason, scratch = decode(text.encode("utf-8"), "text", **rules)

    assert got is verdict and words in reason
    if verdict is Verdict.PASS:
        assert scratch["text"] == text.removeprefix("\ufeff")


def test_wav_metadata_lands_in_scratch() -> None:
    verdict, _, scratch = decode(wav(1.5, rate=16_000), "audio")

    assert verdict is Verdict.PASS
    assert (scratch["format"], scratch["duration_s"], scratch["sample_rate"]) == ("wav", 1.5, 16_000)


def test_corrupt_flac_is_refused_by_name() -> None:
    verdict, reason, _ = decode(b"fLaC" + bytes(range(256)) * 4, "audio")

    assert verdict is Verdict.FAIL and "FLAC file is corrupt" in reason


def test_audio_formats_outside_the_allowed_list_are_refused() -> None:
    verdict, reason, _ = decode(wav(1), "audio", allowed_formats=["flac", "mp3"])

    assert (verdict, reason) == (
        Verdict.FAIL,
        "the file is a WAV recording; this task accepts only FLAC, MP3",
    )


# --- hostile bytes: any input gives a result, never an exception ------------------------------

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(data=st.binary(max_size=4096), modality=st.sampled_from(list(Modality)))
def test_random_bytes_never_raise(data: bytes, modality: Modality) -> None:
    verdict, _, _ = decode(data, modality.value)

    if modality is not Modality.TEXT and not sniff(data).modality:
        assert verdict is Verdict.FAIL


@FUZZ
@given(
    name=st.sampled_from(sorted(SAMPLES)),
    cut=st.integers(min_value=0, max_value=1 << 20),
    edits=st.lists(st.tuples(st.integers(min_value=0, max_value=1 << 20), st.integers(0, 255)), max_size=8),
)
def test_mutated_images_never_raise(name: str, cut: int, edits: list[tuple[int, int]]) -> None:
    data = bytearray(SAMPLES[name])
    for offset, value in edits:
        data[offset % len(data)] = value
    mutated = bytes(data[: max(1, cut % (len(data) + 1))])

    verdict, reason, _ = decode(mutated)

    assert verdict in (Verdict.PASS, Verdict.FAIL)
    assert verdict is Verdict.PASS or reason


@FUZZ
@given(header=st.binary(min_size=0, max_size=64), body=st.binary(max_size=512))
def test_mutated_wav_headers_never_raise(header: bytes, body: bytes) -> None:
    data = b"RIFF" + struct.pack("<I", 36 + len(body)) + b"WAVE" + header + body

    verdict, _, _ = decode(data, "audio")

    assert verdict in (Verdict.PASS, Verdict.FAIL)


def test_a_size_only_pillow_sees_is_still_limited() -> None:
    # A GIF screen of 100×100 glued onto PNG data: only the GIF plugin may read it, and the frame it
    # finds there claims 752 megapixels. Pillow's own bomb check, made an error, refuses it.
    data = b"GIF89a" + struct.pack("<HH", 100, 100) + SAMPLES["png"][10:]

    verdict, reason, _ = decode(data)

    assert verdict is Verdict.FAIL
    assert reason.startswith("the image is too large to open safely (Image size (752798376 pixels)")


def test_reduced_copy_of_a_palette_image_with_transparency() -> None:
    image = Image.new("P", (300, 200), 0)
    image.info["transparency"] = 0
    out = io.BytesIO()
    image.save(out, "PNG", transparency=0)

    verdict, _, scratch = decode(out.getvalue())

    assert verdict is Verdict.PASS
    assert scratch["image"].getpixel((10, 10)) == (255, 255, 255)  # transparent reads as white
