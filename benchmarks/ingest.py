"""Pre-screening throughput on one core: upload to verdict, beside a plain full decode of the same JPEGs.

    python benchmarks/ingest.py --json [--images 12] [--megapixels 12]

Generates distinct photo-like JPEGs, then on one thread: (a) decodes each in full with Pillow
(``Image.open().load()``), (b) takes each through DataCoop as a contributor's item would go —
store the blob (CID), commit a signed submission, run every pre-screening stage but the neural
relevance model — and reports the median per-image rates. ``relevance_items_per_s`` times the
relevance model alone where one is installed (it is ``null`` otherwise).
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
from datacoop.domain.signing import SubmissionMessage, sign_typed
from datacoop.pipeline.registry import discover
from datacoop.schemas import SubmissionCreate, TaskCreate
from datacoop.services import participants
from datacoop.settings import Settings


def make_jpeg(seed: int, megapixels: float) -> bytes:
    """A photo-like JPEG: smooth gradients, shapes and sensor noise (so it compresses like a photo)."""
    rng = np.random.default_rng(seed)
    height = int((megapixels * 1e6 * 3 / 4) ** 0.5)
    width = int(height * 4 / 3)
    small = rng.integers(0, 255, size=(height // 64 + 1, width // 64 + 1, 3), dtype=np.uint8)
    base = Image.fromarray(small).resize((width, height), Image.Resampling.BICUBIC)
    pixels = np.asarray(base, dtype=np.int16) + rng.normal(0, 6, size=(height, width, 3)).astype(np.int16)
    out = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(out, "JPEG", quality=90)
    return out.getvalue()


def decode_rate(images: list[bytes]) -> float:
    times = []
    for data in images:
        t = time.perf_counter()
        with Image.open(io.BytesIO(data)) as im:
            im.load()
        times.append(time.perf_counter() - t)
    return 1 / statistics.median(times)


def prescreen_rate(node: Node, images: list[bytes]) -> tuple[float, dict[str, int]]:
    now = datetime.now(UTC)
    who = Account.from_key((4242).to_bytes(32, "big"))
    with node.db.transaction() as s:
        row = participants.get_or_create(s, who.address, now)
    task = node.tasks.create(row, TaskCreate(
        title="Industrial protective masks", description="photos of N95 masks", modality="image",
        reward_per_item=1, target_count=1000, deadline=now + timedelta(days=1), consent_text="ok",
    ))  # fmt: skip
    times, outcomes = [], {}
    for i, data in enumerate(images):
        t = time.perf_counter()
        blob = node.blobs.put_file_bytes([data], row)
        msg = SubmissionMessage(contributor=who.address, task_id=task.id, cid=blob.cid,
                                consent_hash=task.consent_hash, jurisdiction="KE", nonce=i,
                                deadline=int(now.timestamp()) + 3600)  # fmt: skip
        sub = node.submissions.commit(row, task.id, SubmissionCreate(
            cid=blob.cid, consent_hash=task.consent_hash, jurisdiction="KE", nonce=i, deadline=msg.deadline,
            signature=sign_typed(who.key, msg.to_typed_data(node.eip712)),
        ))  # fmt: skip
        node.screening.work_once("bench")
        times.append(time.perf_counter() - t)
        outcome = node.submissions.get(sub.id).state.value
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return 1 / statistics.median(times), outcomes


def relevance_rate() -> float | None:
    try:
        from datacoop.models import MiniLmTextEmbedder  # type: ignore[attr-defined]
        from datacoop.pipeline.stages.relevance import RelevanceStage  # noqa: F401
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
    with tempfile.TemporaryDirectory() as tmp:
        node = build_node(Settings(data_dir=Path(tmp), chain="off", stages=stages), with_chain=False)
        prescreen, outcomes = prescreen_rate(node, images)
        node.close()
    decode = decode_rate(images)
    result: dict[str, Any] = {
        "prescreen_images_per_s_per_core": round(prescreen, 2),
        "decode_images_per_s_per_core": round(decode, 2),
        "prescreen_to_decode_ratio": round(prescreen / decode, 2),
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
