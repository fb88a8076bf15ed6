"""Pre-screening throughput on one core: upload to verdict, beside a plain full decode of the same JPEGs.

    python benchmarks/ingest.py --json [--images 12] [--megapixels 12]

Generates distinct photo-like JPEGs written as a phone writes them (baseline, 4:2:0 chroma,
quality 90, EXIF with camera, capture time and GPS), then on one thread: (a) decodes each in
full with Pillow (``Image.open().load()``), (b) takes each through DataCoop as a contributor's
item would go — store the blob (CID), commit a signed submission, run every pre-screening
stage but the neural relevance model — and reports the median per-image rates.

"Per core" counts CPU time (``time.process_time``: every thread of this process, OpenCV's
included), so other processes on the machine and waits on the disk (the blob store's fsyncs)
do not change it; ``*_wall_ms`` give the medians by the clock beside it. ``stage_cpu_ms`` is
the median CPU time of each stage inside (b) and ``other_cpu_ms`` what (b) spends outside the
stages: storing the blob, verifying the signature, the database. ``relevance_items_per_s``
times the relevance model alone where one is installed (it is ``null`` otherwise).
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from eth_account import Account
from PIL import Image

from datacoop.app import Node, build_node
from datacoop.identity import participants
from datacoop.identity.eip712 import SubmissionMessage, sign_typed
from datacoop.screening.base import ItemContext, StageResult, TaskView
from datacoop.screening.registry import discover
from datacoop.settings import Settings
from datacoop.tasks.schemas import SubmissionCreate, TaskCreate


def phone_exif(seed: int) -> bytes:
    """EXIF as a phone writes it: camera, software, capture time, orientation and a GPS position."""
    exif = Image.Exif()
    exif.update({0x010F: "Google", 0x0110: "Pixel 7", 0x0131: "HDR+ 1.0.540104767zd",
                 0x0132: "2026:11:02 14:31:07", 0x0112: 1})  # fmt: skip
    exif.get_ifd(0x8769).update({0x9003: "2026:11:02 14:31:07", 0x9004: "2026:11:02 14:31:07"})
    exif.get_ifd(0x8825).update({1: "S", 2: (1.0, 17.0, 0.5 + seed), 3: "E", 4: (36.0, 49.0, 12.25)})
    return exif.tobytes()


def make_jpeg(seed: int, megapixels: float) -> bytes:
    """A photo-like JPEG: smooth gradients, shapes and sensor noise (so it compresses like a photo).

    Saved as phones save theirs: baseline (not progressive), 4:2:0 chroma, quality 90, with EXIF.
    """
    rng = np.random.default_rng(seed)
    height = int((megapixels * 1e6 * 3 / 4) ** 0.5)
    width = int(height * 4 / 3)
    small = rng.integers(0, 255, size=(height // 64 + 1, width // 64 + 1, 3), dtype=np.uint8)
    base = Image.fromarray(small).resize((width, height), Image.Resampling.BICUBIC)
    pixels = np.asarray(base, dtype=np.int16) + rng.normal(0, 6, size=(height, width, 3)).astype(np.int16)
    out = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(
        out, "JPEG", quality=90, subsampling="4:2:0", progressive=False, exif=phone_exif(seed)
    )
    return out.getvalue()


class Timed:
    """CPU and wall seconds per image, and the CPU seconds of each stage within each image."""

    def __init__(self) -> None:
        self.cpu: list[float] = []
        self.wall: list[float] = []
        self.stages: list[dict[str, float]] = []
        self.current: dict[str, float] = {}

    def reset(self) -> None:
        self.__init__()  # type: ignore[misc]

    def add(self, cpu: float, wall: float) -> None:
        self.cpu.append(cpu)
        self.wall.append(wall)
        self.stages.append(self.current)
        self.current = {}

    def stage_ms(self) -> dict[str, float]:
        names = {name for image in self.stages for name in image}
        return {
            name: round(statistics.median(i[name] for i in self.stages if name in i) * 1000, 1)
            for name in sorted(names)
        }

    def other_ms(self) -> float:
        spent = [cpu - sum(stages.values()) for cpu, stages in zip(self.cpu, self.stages, strict=True)]
        return round(statistics.median(spent) * 1000, 1)


def time_stages(stages: list[str], timed: Timed) -> None:
    """Record each stage's CPU time in ``timed`` (in this process only: the benchmark's own probe)."""
    found = discover()
    for name in stages:
        cls = found[name]
        run = cls.run

        def timed_run(
            self: Any, item: ItemContext, task: TaskView, _run: Any = run, _name: str = name
        ) -> StageResult:
            t = time.process_time()
            try:
                return _run(self, item, task)  # type: ignore[no-any-return]
            finally:
                timed.current[_name] = time.process_time() - t

        cls.run = timed_run  # type: ignore[method-assign]


def decode_rate(images: list[bytes]) -> Timed:
    timed = Timed()
    for data in images:
        t, w = time.process_time(), time.perf_counter()
        with Image.open(io.BytesIO(data)) as im:
            im.load()
        timed.add(time.process_time() - t, time.perf_counter() - w)
    return timed


def prescreen_rate(node: Node, images: list[bytes], timed: Timed, first_nonce: int = 0) -> dict[str, int]:
    now = datetime.now(UTC)
    who = Account.from_key((4242).to_bytes(32, "big"))
    with node.db.transaction() as s:
        row = participants.as_caller(participants.get_or_create(s, who.address, now), node.auth.chain_id)
    task = node.tasks.create(row, TaskCreate(
        title="Industrial protective masks", description="photos of N95 masks", modality="image",
        reward_per_item=1, target_count=1000, deadline=now + timedelta(days=1), consent_text="ok",
    ))  # fmt: skip
    outcomes: dict[str, int] = {}
    for i, data in enumerate(images, start=first_nonce):
        t, w = time.process_time(), time.perf_counter()
        blob = node.blobs.put_file_bytes([data], row)
        msg = SubmissionMessage(contributor=who.address, task_id=task.id, cid=blob.cid,
                                consent_hash=task.consent_hash, jurisdiction="KE", nonce=i,
                                deadline=int(now.timestamp()) + 3600)  # fmt: skip
        sub = node.submissions.commit(row, task.id, SubmissionCreate(
            cid=blob.cid, consent_hash=task.consent_hash, jurisdiction="KE", nonce=i, deadline=msg.deadline,
            signature=sign_typed(who.key, msg.to_typed_data(node.eip712)),
        ))  # fmt: skip
        node.screening.work_once("bench")
        timed.add(time.process_time() - t, time.perf_counter() - w)
        outcome = node.submissions.get(sub.id).state.value
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


def relevance_rate() -> float | None:
    try:
        from datacoop.models import MiniLmTextEmbedder
        from datacoop.screening.stages.relevance import RelevanceStage  # noqa: F401
    except Exception:
        return None
    embedder = MiniLmTextEmbedder()
    texts = [f"close-up photo number {i} of an N95 respirator mask on a workbench" for i in range(200)]
    embedder.embed_texts(texts[:8])  # load and warm up
    t = time.perf_counter()
    embedder.embed_texts(texts)
    return len(texts) / (time.perf_counter() - t)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--images", type=int, default=12)
    parser.add_argument("--megapixels", type=float, default=12.0)
    args = parser.parse_args(argv)
    images = [make_jpeg(seed, args.megapixels) for seed in range(args.images)]
    stages = sorted(name for name in discover() if name != "relevance")
    screened = Timed()
    time_stages(stages, screened)
    with tempfile.TemporaryDirectory() as tmp:
        node = build_node(Settings(data_dir=Path(tmp), chain="off", stages=stages), with_chain=False)
        warm_up = [make_jpeg(10_000 + i, 1.0) for i in range(2)]
        prescreen_rate(node, warm_up, screened)  # loads the stages' libraries and models
        screened.reset()
        outcomes = prescreen_rate(node, images, screened, first_nonce=len(warm_up))
        node.close()
    decoded = decode_rate(images)
    prescreen, decode = 1 / statistics.median(screened.cpu), 1 / statistics.median(decoded.cpu)
    result: dict[str, Any] = {
        "prescreen_images_per_s_per_core": round(prescreen, 2),
        "decode_images_per_s_per_core": round(decode, 2),
        "prescreen_to_decode_ratio": round(prescreen / decode, 2),
        "prescreen_wall_ms": round(statistics.median(screened.wall) * 1000, 1),
        "decode_wall_ms": round(statistics.median(decoded.wall) * 1000, 1),
        "stage_cpu_ms": screened.stage_ms(),
        "other_cpu_ms": screened.other_ms(),
        "relevance_items_per_s": relevance_rate(),
        "images": args.images,
        "megapixels": args.megapixels,
        "mean_jpeg_bytes": int(statistics.mean(len(i) for i in images)),
        "stages": stages,
        "outcomes": outcomes,
    }
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
