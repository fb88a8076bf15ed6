"""Relevance stage throughput with the default text model (all-MiniLM-L6-v2 on the CPU).

Usage: ``python benchmarks/relevance.py --json [--items 200] [--batch 32] [--threads N] [--seed 0]``.

``--items`` texts of 8-60 words are generated from a seeded mix of on-topic sentences
(face masks, the benchmark task) and off-topic ones (not timed). After loading the model
(``load_s``: importing torch included) and a warm-up, the texts go one at a time through
:class:`RelevanceStage` as the pipeline runs it: one model call per item, the task's
vector remembered. That rate is ``relevance_items_per_s`` (``batch`` 1). For comparison,
``batched_items_per_s`` embeds the same texts ``--batch`` at a time, the rate a batching
worker could reach. ``verdicts`` counts the outcomes, a sanity check that both kinds
of text were generated. ``--threads`` sets torch's intra-op threads (default: one per
core); on a machine whose cores are busy with other work, 1 thread is several times
faster per item than 2, which spin waiting for each other.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter

import numpy as np

from datacoop.models import MiniLmTextEmbedder
from datacoop.screening.base import ItemContext, TaskView
from datacoop.screening.stages.relevance import RelevanceStage
from datacoop.tasks.rules import Modality

TASK = TaskView(
    1, Modality.TEXT, "Face masks",
    "Photos and descriptions of face masks and respirators worn to protect against dust and disease.", {},
)  # fmt: skip
ON_TOPIC = [
    "The N95 respirator seals around the nose and filters most airborne particles",
    "my cloth mask has two cotton layers, a pocket for a filter and a bendable nose wire",
    "surgical masks are loose fitting and mostly protect other people from the wearer's droplets",
    "the elastic ear loops of this disposable mask snapped after a single day at work",
    "a KN95 fits tighter than a surgical mask but it fogs my glasses in the cold",
]
OFF_TOPIC = [
    "the stock market fell sharply today on fears that inflation will keep rising",
    "a grey cat slept on the sofa all afternoon while the rain kept falling",
    "mix the flour, eggs and sugar, then bake the cake for thirty minutes",
    "the home team won two to one after a late goal in the second half",
    "our train was delayed by forty minutes because of a signal failure near the station",
]


def texts(count: int, seed: int) -> list[str]:
    """``count`` texts of one to four sentences, on or off the topic at random (seeded)."""
    rng = np.random.default_rng(seed)
    made = []
    for _ in range(count):
        pool = ON_TOPIC if rng.random() < 0.5 else OFF_TOPIC
        picked = rng.choice(len(pool), size=int(rng.integers(1, 5)))
        made.append(". ".join(pool[i].capitalize() for i in picked) + ".")
    return made


def _item(text: str) -> ItemContext:
    return ItemContext(
        1, "bafy", len(text), "0x" + "00" * 20, text.encode, lambda _: "", scratch={"text": text}
    )


def measure(count: int, batch: int, seed: int, threads: int | None = None) -> dict[str, object]:
    corpus = texts(count, seed)
    started = time.perf_counter()
    import torch  # timed: importing torch is most of a worker's first load

    if threads:
        torch.set_num_threads(threads)
    model = MiniLmTextEmbedder(batch_size=batch)
    model.load()
    load_s = time.perf_counter() - started
    stage = RelevanceStage(text=model)
    for text in corpus[:10]:  # warm-up: first calls allocate buffers
        stage.run(_item(text), TASK)
    started = time.perf_counter()
    verdicts = Counter(stage.run(_item(text), TASK).verdict.value for text in corpus)
    per_item_s = time.perf_counter() - started
    started = time.perf_counter()
    model.embed_texts(corpus)
    batched_s = time.perf_counter() - started
    return {
        "relevance_items_per_s": round(count / per_item_s, 1),
        "model": model.name,
        "batch": 1,
        "batched_items_per_s": round(count / batched_s, 1),
        "batched_size": batch,
        "items": count,
        "mean_words": round(float(np.mean([len(t.split()) for t in corpus])), 1),
        "load_s": round(load_s, 2),
        "verdicts": dict(sorted(verdicts.items())),
        "torch_threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--batch", type=int, default=32, help="batch size of the batched comparison")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    result = measure(args.items, args.batch, args.seed, args.threads)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>24}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
