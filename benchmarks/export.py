"""Dataset export speed per format, beside a plain copy of the same blob bytes.

Usage: ``python benchmarks/export.py --json [--items 10000] [--item-kb 100] [--repeat 3]``.
Fills a temporary LocalBlobStore with ``--items`` random (incompressible) blobs of
about ``--item-kb`` KB (10,000 × 100 KB ≈ 1 GB), builds a manifest over them and
times, in turn, a plain copy of every blob into one file (``copy``) and the
``webdataset``, ``parquet`` (with the bytes) and ``car`` exporters, each run
writing into the same temporary folder and deleted before the next, the
contenders taking turns. Blobs are read once first so every contender finds
them in the page cache, and dirty pages are written back (``sync``) before
each timed run so that none pays for the writeback of the run before.

Prints one JSON object: ``webdataset_mb_s``, ``parquet_mb_s``, ``car_mb_s``,
``copy_mb_s`` (medians of ``--repeat`` runs, blob megabytes per second), the ratio
of each exporter's speed to the copy's (``{format}_vs_copy``, goal: WebDataset and
CAR >= 0.7: the median over the turns of the turn's copy time over the
exporter's, each turn's ratio in ``{format}_vs_copy_turns``), ``items``,
``total_mb``, ``repeat``, the CPUs the process may use and the machine's load
average when the runs end (``load_1m``): CAR hashes every byte (sha2-256) on a
second thread, so its ratio needs a CPU the rest of the machine leaves free.
``--items 3000`` (300 MB) gives a quick reading with much the same ratios.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from datacoop.datasets.export import car, parquet, webdataset
from datacoop.datasets.export._base import COPY_BUFFER, OpenBlob
from datacoop.datasets.manifest import Manifest, ManifestItem
from datacoop.storage import LocalBlobStore

Runner = Callable[[Manifest, OpenBlob, Path], object]
FORMATS: dict[str, Runner] = {
    "webdataset": lambda m, o, d: webdataset.export(m, o, d),
    "parquet": lambda m, o, d: parquet.export(m, o, d, with_bytes=True),
    "car": lambda m, o, d: car.export(m, o, d, blob_profile=lambda _cid: "kubo-cidv1"),
}


def fill_store(store: LocalBlobStore, items: int, item_kb: int) -> Manifest:
    """``items`` random blobs of item_kb KB ± 10 %, and a manifest listing them."""
    pool = os.urandom(2 * item_kb * 1000 + 4096)  # one random pool, sliced at shifting offsets
    entries = []
    for index in range(items):
        size = item_kb * 1000 + (index * 7919) % (item_kb * 200) - item_kb * 100
        start = (index * 4099) % (len(pool) - size)
        data = index.to_bytes(8, "big") + pool[start : start + size - 8]  # no two blobs alike
        with store.writer(max_bytes=size) as writer:
            writer.write(data)
            cid = writer.commit().cid
        entries.append(_item(index, cid, size))
    return Manifest.create(
        items=entries,
        dataset_id=1,
        name="benchmark",
        version=1,
        created_at="2026-01-01T00:00:00Z",
        query={},
        licence="CC0-1.0",
        eip712_domain={"name": "DataCoop", "version": "1", "chainId": 31337},
        previous=None,
        changes={"added": [], "removed": []},
    )


def _item(index: int, cid: str, size: int) -> ManifestItem:
    digest = "0x" + hashlib.sha256(str(index).encode()).hexdigest()
    return ManifestItem(
        index=index,
        submission_id=index + 1,
        cid=cid,
        original_cid_hash=digest,
        size=size,
        media_type="application/octet-stream",
        labels={"class": ("a", "b", "c")[index % 3]},
        quality={"blur": 100.0},
        contributor="did:pkh:eip155:31337:0x" + "11" * 20,
        task_id=1,
        nonce=index,
        deadline=2_000_000_000,
        consent_hash=digest,
        jurisdiction="DE",
        licence="CC0-1.0",
        signature="0x" + "ab" * 65,
        review={"outcome": "accepted", "votes": 3},
    )


def plain_copy(manifest: Manifest, open_blob: OpenBlob, out_dir: Path) -> None:
    """The baseline: every blob's bytes appended to one file through the same 1 MiB buffer."""
    out_dir.mkdir()
    with (out_dir / "copy.bin").open("wb", buffering=COPY_BUFFER) as target:
        for item in manifest.iter_items():
            with open_blob(item.cid) as blob:
                shutil.copyfileobj(blob, target, COPY_BUFFER)


def _settle() -> None:
    """Write back every dirty page now, so that no run pays for the one before (1 GB each)."""
    if hasattr(os, "sync"):
        os.sync()


def run(
    items: int, item_kb: int, repeat: int, formats: list[str], out_root: Path | None = None
) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="datacoop-bench-export-") as folder:
        store = LocalBlobStore(Path(folder) / "blobs")
        manifest = fill_store(store, items, item_kb)
        total = sum(item.size for item in manifest.iter_items())
        runners: dict[str, Runner] = {"copy": plain_copy, **{name: FORMATS[name] for name in formats}}
        plain_copy(manifest, store.open, Path(folder) / "warm")  # page cache: nobody pays for the disk
        shutil.rmtree(Path(folder) / "warm")
        times: dict[str, list[float]] = {name: [] for name in runners}
        for _ in range(repeat):
            for name, runner in runners.items():
                out = (out_root or Path(folder)) / name
                _settle()
                start = time.perf_counter()
                runner(manifest, store.open, out)
                times[name].append(time.perf_counter() - start)
                shutil.rmtree(out)
    speeds = {name: total / 1e6 / statistics.median(runs) for name, runs in times.items()}
    result: dict[str, object] = {f"{name}_mb_s": round(speed, 1) for name, speed in speeds.items()}
    for name in formats:
        # Each turn's exporter against the copy of the same turn: the machine's drift cancels.
        turns = [copy / took for copy, took in zip(times["copy"], times[name], strict=True)]
        result[f"{name}_vs_copy"] = round(statistics.median(turns), 3)
        result[f"{name}_vs_copy_turns"] = [round(turn, 3) for turn in turns]
    result.update(
        items=items,
        total_mb=round(total / 1e6, 1),
        repeat=repeat,
        cpus=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        load_1m=round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--json", action="store_true", help="print only the JSON result")
    parser.add_argument("--items", type=int, default=10_000, help="items in the dataset (default 10000)")
    parser.add_argument("--item-kb", type=int, default=100, help="mean blob size in KB (default 100)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each (default 3)")
    parser.add_argument(
        "--formats", default=",".join(FORMATS), help=f"comma-separated, of {', '.join(FORMATS)} (default all)"
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="where the exports are written (default: beside the blobs)"
    )
    args = parser.parse_args(argv)
    formats = [name for name in args.formats.split(",") if name]
    unknown = sorted(set(formats) - FORMATS.keys())
    if unknown or args.items < 1 or args.item_kb < 1 or args.repeat < 1:
        parser.error(f"unknown format(s) {unknown}" if unknown else "--items, --item-kb, --repeat: >= 1")
    result = run(args.items, args.item_kb, args.repeat, formats, args.out)
    if args.json:
        json.dump(result, sys.stdout)
        sys.stdout.write("\n")
    else:
        for key, value in result.items():
            print(f"{key:>20}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
