"""Generated images for the demo, each of a known kind, so every verdict can be checked against the truth.

Good images are distinct, photo-like and sharp: a smooth random background with
light falloff, a scatter of solid shapes with crisp edges, fine sensor-like noise.
The bad kinds are derived from them the way real bad uploads happen: the same
file sent again, a re-encoded and slightly re-toned copy, a shaken (blurred)
shot, a transfer cut short. Off-topic images are well made but show the wrong
thing (flat text-like stripes on paper rather than the task's subject); no
automatic stage judges topic without an image model, so validators catch them.
"""

from __future__ import annotations

import enum
import functools
import io
import random
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

__all__ = ["Kind", "Sample", "generate", "plan"]

WIDTH, HEIGHT = 640, 480


class Kind(enum.StrEnum):
    GOOD = "good"
    EXACT_DUPLICATE = "exact_duplicate"
    NEAR_DUPLICATE = "near_duplicate"
    BLURRY = "blurry"
    CORRUPT = "corrupt"
    OFF_TOPIC = "off_topic"

    @property
    def truth(self) -> str:
        """What a careful reviewer would answer: only good items belong in the dataset."""
        return "accept" if self is Kind.GOOD else "reject"


# Share of each kind in a demo run; the rest are good.
MIX: dict[Kind, float] = {
    Kind.EXACT_DUPLICATE: 0.06,
    Kind.NEAR_DUPLICATE: 0.06,
    Kind.BLURRY: 0.07,
    Kind.CORRUPT: 0.05,
    Kind.OFF_TOPIC: 0.08,
}


@dataclass(frozen=True)
class Sample:
    kind: Kind
    data: bytes
    source: int | None = None  # for duplicates: the index of the good sample copied


def plan(items: int, rng: random.Random) -> list[Kind]:
    """The kinds of ``items`` (12 or more) samples: at least one of every bad kind, the rest good."""
    kinds: list[Kind] = []
    for kind, share in MIX.items():
        kinds += [kind] * max(1, round(items * share))
    kinds += [Kind.GOOD] * max(items - len(kinds), 0)
    kinds = kinds[:items]
    rng.shuffle(kinds)
    first_good = kinds.index(Kind.GOOD)  # a good one first: every copy has an original to copy
    kinds[0], kinds[first_good] = kinds[first_good], kinds[0]
    return kinds


def _jpeg(image: Image.Image, quality: int = 88) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


@functools.cache
def _grid() -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Each pixel's row and column (read-only, shared by every picture)."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    y.flags.writeable = x.flags.writeable = False
    return y, x


def _photo(rng: random.Random) -> Image.Image:
    """A distinct, sharp, photo-like scene."""
    nrng = np.random.default_rng(rng.getrandbits(64))
    y, x = _grid()
    base = np.empty((HEIGHT, WIDTH, 3), np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * x / WIDTH + np.sin(angle) * y / HEIGHT + 1) / 2
    for c in range(3):
        lo, hi = rng.uniform(40, 120), rng.uniform(130, 220)
        base[..., c] = lo + (hi - lo) * ramp
    cx, cy = rng.uniform(0, WIDTH), rng.uniform(0, HEIGHT)
    falloff = 1 - 0.35 * np.clip(np.hypot(x - cx, y - cy) / WIDTH, 0, 1)  # light from one side
    image = Image.fromarray(np.clip(base * falloff[..., None], 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(12, 24)):
        x0, y0 = rng.uniform(-50, WIDTH), rng.uniform(-50, HEIGHT)
        w, h = rng.uniform(20, 220), rng.uniform(20, 200)
        colour = tuple(rng.randint(10, 245) for _ in range(3))
        shape = rng.choice(("rect", "ellipse", "poly"))
        if shape == "rect":
            draw.rectangle((x0, y0, x0 + w, y0 + h), fill=colour)
        elif shape == "ellipse":
            draw.ellipse((x0, y0, x0 + w, y0 + h), fill=colour)
        else:
            points = [(x0 + rng.uniform(0, w), y0 + rng.uniform(0, h)) for _ in range(rng.randint(3, 6))]
            draw.polygon(points, fill=colour)
    # uniform in [-7, 7] (standard deviation 4.3): as fine as Gaussian noise, and five times cheaper to draw
    noisy = np.asarray(image, np.int16) + nrng.integers(-7, 8, (HEIGHT, WIDTH, 3), dtype=np.int8)
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def _off_topic(rng: random.Random) -> Image.Image:
    """A well-exposed, sharp picture of the wrong thing: lines of 'text' on a sheet of paper."""
    paper = tuple(rng.randint(215, 235) for _ in range(3))
    image = Image.new("RGB", (WIDTH, HEIGHT), paper)
    draw = ImageDraw.Draw(image)
    ink = tuple(rng.randint(20, 90) for _ in range(3))
    top = rng.randint(20, 60)
    for line in range(top, HEIGHT - 30, rng.randint(22, 30)):
        x = rng.randint(20, 50)
        while x < WIDTH - 40:
            word = rng.randint(15, 70)
            draw.rectangle((x, line, min(x + word, WIDTH - 30), line + rng.randint(8, 12)), fill=ink)
            x += word + rng.randint(8, 14)
    return image


def generate(kinds: list[Kind], rng: random.Random) -> list[Sample]:
    """One sample per kind in ``kinds``; duplicates copy an earlier (or, failing that, a fresh) good one."""
    samples: list[Sample] = []
    goods: list[int] = []
    for kind in kinds:
        if kind is Kind.GOOD:
            goods.append(len(samples))
            samples.append(Sample(kind, _jpeg(_photo(rng))))
            continue
        if kind in (Kind.EXACT_DUPLICATE, Kind.NEAR_DUPLICATE) and not goods:
            goods.append(len(samples))
            samples.append(Sample(Kind.GOOD, _jpeg(_photo(rng))))  # something to copy
        if kind is Kind.EXACT_DUPLICATE:
            source = rng.choice(goods)
            samples.append(Sample(kind, samples[source].data, source))
        elif kind is Kind.NEAR_DUPLICATE:
            source = rng.choice(goods)
            original = Image.open(io.BytesIO(samples[source].data))
            toned = ImageEnhance.Brightness(original).enhance(rng.uniform(1.03, 1.08))
            samples.append(Sample(kind, _jpeg(toned, quality=rng.randint(70, 80)), source))
        elif kind is Kind.BLURRY:
            shaken = _photo(rng).filter(ImageFilter.GaussianBlur(rng.uniform(6, 9)))
            samples.append(Sample(kind, _jpeg(shaken)))
        elif kind is Kind.CORRUPT:
            whole = _jpeg(_photo(rng))
            samples.append(Sample(kind, whole[: len(whole) * rng.randint(35, 65) // 100]))
        else:
            samples.append(Sample(kind, _jpeg(_off_topic(rng))))
    return samples
