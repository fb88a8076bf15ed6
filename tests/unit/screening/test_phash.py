"""The perceptual hash: stable under resizing and re-encoding, far apart for different pictures."""

from __future__ import annotations

import io

import imagehash
from PIL import Image, ImageFilter
from tests.data.make_corpus import astronaut, encode, scene
from tests.unit.screening.items import make_item, make_task

from datacoop.screening.base import Verdict
from datacoop.screening.stages.decode import DecodeStage
from datacoop.screening.stages.phash import PerceptualHashStage, hamming, phash64


def staged_hash(data: bytes) -> int:
    """The hash the pipeline computes: decode's reduced copy, then the phash stage."""
    item, task = make_item(data), make_task()
    assert DecodeStage().run(item, task).verdict is Verdict.PASS
    result = PerceptualHashStage().run(item, task)
    assert result.details["phash"] == f"0x{item.scratch['phash']:016x}"
    return int(item.scratch["phash"])


def reopened(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB")


def test_resized_and_reencoded_copies_stay_within_8_bits() -> None:
    original = astronaut().resize((2048, 2048), Image.Resampling.BICUBIC)
    reference = staged_hash(encode(original, "PNG"))

    copies = {
        "half size jpeg q70": encode(original.resize((1024, 1024)), quality=70),
        "quarter size webp": encode(original.resize((512, 512)), "WEBP", quality=60),
        "slightly blurred": encode(original.filter(ImageFilter.GaussianBlur(2))),
        "small thumbnail": encode(original.resize((200, 200)), quality=85),
    }

    for name, data in copies.items():
        assert hamming(reference, staged_hash(data)) <= 8, name


def test_unrelated_pictures_are_far_apart() -> None:
    a, b, c = (staged_hash(encode(p)) for p in (astronaut(), scene(seed=1), scene(seed=2)))

    assert min(hamming(a, b), hamming(a, c), hamming(b, c)) > 16


def test_matches_imagehash_on_small_images() -> None:
    # Below 256 px no box reduction happens first, so the value is ImageHash's own pHash.
    picture = reopened(encode(astronaut().resize((200, 200))))

    assert phash64(picture) == int(str(imagehash.phash(picture)), 16)


def test_hash_is_64_bits() -> None:
    value = phash64(astronaut())

    assert 0 <= value < 1 << 64 and hamming(value, value) == 0 and hamming(0, (1 << 64) - 1) == 64


def test_nothing_to_hash_without_a_decoded_image() -> None:
    assert PerceptualHashStage().run(make_item(b"x"), make_task()).verdict is Verdict.SKIPPED
