"""The scrub stage: the copy others receive has no GPS, device or time metadata (two EXIF readers check)."""

from __future__ import annotations

import io

import numpy as np
import piexif
import pytest
from PIL import Image, PngImagePlugin
from tests.data.make_corpus import encode, gps_jpeg, polyglot_jpeg, scene, with_segments
from tests.unit.screening.items import Blobs, make_item, make_task

from datacoop.cid import cid_of_bytes
from datacoop.screening.base import StageResult, Verdict
from datacoop.screening.stages.decode import DecodeStage
from datacoop.screening.stages.scrub import ScrubStage

GPS_IFD, EXIF_IFD = 0x8825, 0x8769


def scrub(data: bytes, blobs: Blobs, **scrub_settings: object) -> tuple[StageResult, bytes]:
    item, task = make_item(data, blobs), make_task(stages={"scrub": scrub_settings})
    assert DecodeStage().run(item, task).verdict is Verdict.PASS
    result = ScrubStage().run(item, task)
    return result, blobs.stored[result.artifacts["scrubbed_cid"]]


def assert_no_identifying_exif(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as image:
        exif = image.getexif()
        assert not exif.get_ifd(GPS_IFD)
        assert not {0x010F, 0x0110, 0x0132, 0x0131} & set(exif)  # make, model, time, software
        assert not exif.get_ifd(EXIF_IFD)
        assert "xmp" not in image.info and "comment" not in image.info
    if data.startswith(b"\xff\xd8"):
        found = piexif.load(data)
        assert found["GPS"] == {} and found["Exif"] == {} and found["1st"] == {}
        assert set(found["0th"]) <= {piexif.ImageIFD.Orientation, piexif.ImageIFD.ExifTag}


@pytest.mark.parametrize("mode", ["strip", "reencode"])
def test_gps_camera_and_time_are_removed(mode: str, blobs: Blobs) -> None:
    # Prepare
    original = gps_jpeg()
    assert piexif.load(original)["GPS"], "the sample must carry GPS to begin with"

    # Execute
    result, scrubbed = scrub(original, blobs, jpeg=mode)

    # Assert
    assert_no_identifying_exif(scrubbed)
    assert result.details["gps"] is True and result.details["camera"] == "Canon EOS 5D Mark IV"
    assert result.details["method"] == ("strip" if mode == "strip" else "re-encode")
    assert result.artifacts["scrubbed_cid"] == cid_of_bytes(scrubbed)
    assert b"Canon" not in scrubbed and b"0123456789" not in scrubbed


def test_jpeg_strip_is_lossless() -> None:
    original = gps_jpeg()

    _, scrubbed = scrub(original, Blobs())

    with Image.open(io.BytesIO(original)) as a, Image.open(io.BytesIO(scrubbed)) as b:
        assert np.array_equal(np.asarray(a), np.asarray(b))
    assert len(scrubbed) < len(original)


def test_orientation_survives_alone_when_stripping_and_is_applied_when_reencoding() -> None:
    exif = Image.Exif()
    exif[0x0112], exif[0x010F] = 6, "Canon"
    exif[GPS_IFD] = {1: "N", 2: (52.0, 22.0, 12.5)}
    original = encode(scene((400, 300)), exif=exif.tobytes())

    _, stripped = scrub(original, Blobs())
    _, reencoded = scrub(original, Blobs(), jpeg="reencode")

    with Image.open(io.BytesIO(stripped)) as image:
        assert dict(image.getexif()) == {0x0112: 6} and image.size == (400, 300)
    with Image.open(io.BytesIO(reencoded)) as image:
        assert image.size == (300, 400) and 0x0112 not in image.getexif()
    assert_no_identifying_exif(stripped)
    assert_no_identifying_exif(reencoded)


def test_comments_xmp_trailers_and_extra_pictures_go() -> None:
    xmp = b"\xff\xe1http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta>secret</x:xmpmeta>"
    mpf = b"\xff\xe2MPF\x00" + b"second picture"
    comment = b"\xff\xfe" + b"taken at 12 Baker Street"
    original = with_segments(encode(scene((400, 300))), [xmp, mpf, comment]) + b"TRAILER-DATA"

    result, scrubbed = scrub(original, Blobs())

    for secret in (b"secret", b"second picture", b"Baker Street", b"TRAILER-DATA"):
        assert secret not in scrubbed
    assert result.details["xmp"] and result.details["comment"]
    assert result.details["trailing_bytes"] == len(b"TRAILER-DATA")


def test_icc_profile_is_kept() -> None:
    icc = b"\x00" * 128 + b"acsp-profile"
    original = encode(scene((200, 100)), icc_profile=icc)

    _, scrubbed = scrub(original, Blobs())

    with Image.open(io.BytesIO(scrubbed)) as image:
        assert image.info.get("icc_profile") == icc


def test_png_text_chunks_and_exif_are_removed_by_reencoding() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Jane Doe")
    exif = Image.Exif()
    exif[0x010F], exif[GPS_IFD] = "Pixel", {1: "N"}
    original = encode(scene((300, 200)), "PNG", pnginfo=info, exif=exif.tobytes())

    result, scrubbed = scrub(original, Blobs())

    assert result.details["method"] == "re-encode" and result.details["gps"] is True
    assert b"Jane Doe" not in scrubbed
    assert_no_identifying_exif(scrubbed)
    with Image.open(io.BytesIO(original)) as a, Image.open(io.BytesIO(scrubbed)) as b:
        assert np.array_equal(np.asarray(a.convert("RGB")), np.asarray(b.convert("RGB")))


def test_clean_file_says_nothing_was_found() -> None:
    result, _ = scrub(encode(scene((300, 200)), "WEBP"), Blobs())

    assert result.verdict is Verdict.PASS
    assert result.reasons == (
        "no personal metadata was found; the shared copy is stored without any metadata",
    )


def test_nothing_to_scrub_without_a_decoded_image() -> None:
    item = make_item(polyglot_jpeg())

    result = ScrubStage().run(item, make_task())

    assert result.verdict is Verdict.SKIPPED
