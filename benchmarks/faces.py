"""Face detection for the PII stage: CPU cost per picture, which face sizes are found, and false alarms.

    python benchmarks/faces.py --json [--pictures 6]

Runs ``find_faces`` as the PII stage does (on the decode stage's reduced copy of a 12-megapixel
JPEG) for the default :class:`FaceSettings` and for the settings it replaced
(``frontalface_default``, scale steps 1.15, 5 neighbours, 24 px windows):

- ``cpu_ms``: median CPU time (every thread) per picture over ``--pictures`` faceless
  benchmark pictures (``benchmarks/ingest.py``'s) and scikit-image's photos;
- ``recall``: for each face width as a share of the picture's long side, the share of 21
  faces found (the 20 LFW faces and the astronaut that scikit-image ships, each pasted
  into a reduced benchmark picture or a drawn scene at its own place);
- ``false_faces``: faces reported in the faceless pictures (scikit-image's astronaut and
  cameraman are left out of that set; its photos are otherwise faceless).

Needs scikit-image (a test dependency) for the faces and photos.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from ingest import make_jpeg
from PIL import Image

from datacoop.screening.stages._faces import Box, FaceSettings, find_faces
from datacoop.screening.stages._raster import Limits, decode_image

SHARES = (0.03, 0.04, 0.05, 0.06, 0.08, 0.10, 0.14, 0.20, 0.30)
PHOTOS = ("coffee.png", "chelsea.png", "rocket.jpg", "motorcycle_left.png", "page.png", "grass.png",
          "gravel.png", "brick.png", "color.png", "hubble_deep_field.jpg", "retina.jpg")  # fmt: skip
CONFIGS = {
    "default": FaceSettings(),
    "replaced": FaceSettings(
        scale_factor=1.15, min_neighbors=5, min_size=24, cascade="haarcascade_frontalface_default.xml"
    ),
}


def skimage_data() -> Path:
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("benchmarks/faces.py needs scikit-image (pip install scikit-image)")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def faces(data: Path) -> list[Image.Image]:
    """20 LFW faces (25×25, grayscale) and the astronaut's face, cropped where the cascade finds it."""
    lfw = np.load(data / "lfw_subset.npy")[:100:5]  # the first 100 are faces
    found = [Image.fromarray((f * 255).astype(np.uint8)).convert("RGB") for f in lfw]
    with Image.open(data / "astronaut.png") as astronaut:
        picture = astronaut.convert("RGB")
    (box,) = find_faces(picture, CONFIGS["replaced"])
    w, h = picture.size
    crop = (box.left * w, box.top * h, (box.left + box.width) * w, (box.top + box.height) * h)
    return [*found, picture.crop(crop)]


def scene(seed: int) -> Image.Image:
    """Flat shapes on a gradient: the easy background beside the benchmark's textured ones."""
    from PIL import ImageDraw

    rng = np.random.default_rng(seed)
    canvas = Image.linear_gradient("L").resize((1000, 750)).convert("RGB")
    draw = ImageDraw.Draw(canvas)
    for _ in range(30):
        x, y, w, h = (int(v) for v in rng.integers(0, 700, 4))
        draw.rectangle((x, y, x + w // 3, y + h // 3), fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
    return canvas


def found_at(image: Image.Image, settings: FaceSettings, x: float, y: float) -> bool:
    """Whether a reported face covers the point (x, y), given as fractions of the picture."""
    boxes: list[Box] = find_faces(image, settings)
    return any(b.left <= x <= b.left + b.width and b.top <= y <= b.top + b.height for b in boxes)


def recall(
    settings: FaceSettings, share: float, samples: list[Image.Image], backgrounds: list[Image.Image]
) -> float:
    hits = 0
    for i, face in enumerate(samples):
        picture = backgrounds[i % len(backgrounds)].copy()
        side = round(share * max(picture.size))
        left = 60 + (i * 137) % max(1, picture.width - side - 120)
        top = 40 + (i * 71) % max(1, picture.height - side - 80)
        picture.paste(face.resize((side, side), Image.Resampling.LANCZOS), (left, top))
        hits += found_at(
            picture, settings, (left + side / 2) / picture.width, (top + side / 2) / picture.height
        )
    return round(hits / len(samples), 2)


def cost(settings: FaceSettings, pictures: list[Image.Image]) -> tuple[float, int]:
    times, false_faces = [], 0
    for picture in pictures:
        t = time.process_time()
        false_faces += len(find_faces(picture, settings))
        times.append(time.process_time() - t)
    return round(statistics.median(times) * 1000, 1), false_faces


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--pictures", type=int, default=6)
    args = parser.parse_args(argv)
    data = skimage_data()
    limits = Limits(max_pixels=50_000_000, max_metadata_bytes=1_000_000, reduced_side=1024)
    bench = [decode_image(make_jpeg(seed, 12.0), "jpeg", limits).reduced for seed in range(args.pictures)]
    photos = []
    for name in PHOTOS:
        with Image.open(data / name) as photo:
            photos.append(photo.convert("RGB"))
    samples = faces(data)
    backgrounds = [
        picture for pair in zip(bench, [scene(s) for s in range(len(bench))], strict=True) for picture in pair
    ]
    result: dict[str, Any] = {}
    for name, settings in CONFIGS.items():
        bench_ms, bench_false = cost(settings, bench)
        photo_ms, photo_false = cost(settings, photos)
        result[name] = {
            "settings": asdict(settings),
            "cpu_ms_benchmark_pictures": bench_ms,
            "cpu_ms_photos": photo_ms,
            "false_faces": {"benchmark_pictures": bench_false, "photos": photo_false},
            "recall": {f"{share:.2f}": recall(settings, share, samples, backgrounds) for share in SHARES},
        }
    result["faces"] = len(samples)
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
