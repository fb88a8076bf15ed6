"""CID speed against plain sha2-256: both over the same file, in one run.

Usage: ``python benchmarks/cid.py --json [--size-mb 512] [--repeat 3]``. Writes a
temporary file of random-ish bytes, reads it once so both contenders find it in
the page cache, then times ``cid_of_file`` and one ``hashlib.sha256`` over the
file in 1 MiB reads, alternating. Prints one JSON object: ``cid_mb_s``,
``sha256_mb_s`` (medians), ``ratio`` (cid / sha256; the goal is >= 1),
``size_mb``, ``repeat``, and the CPUs the process may use.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from datacoop.cid import cid_of_file

MiB = 1024 * 1024


def write_file(path: Path, size_mb: int) -> None:
    """Random-ish bytes, fast: one random MiB, each copy shifted so no two chunks repeat."""
    seed = os.urandom(MiB + 4096)
    with path.open("wb") as out:
        for index in range(size_mb):
            shift = (index * 4099) % 4096
            out.write(seed[shift : shift + MiB])
        out.flush()
        os.fsync(out.fileno())  # write back now, not while the contenders are timed


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb", buffering=0) as stream:
        while block := stream.read(MiB):
            digest.update(block)
    return digest.hexdigest()


def timed(fn: Callable[[Path], str], path: Path) -> float:
    start = time.perf_counter()
    fn(path)
    return time.perf_counter() - start


def run(size_mb: int, repeat: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="datacoop-bench-") as folder:
        path = Path(folder) / "blob.bin"
        write_file(path, size_mb)
        sha256_file(path)  # warm the page cache so neither side pays for the disk
        cid_times, sha_times = [], []
        for _ in range(repeat):
            cid_times.append(timed(cid_of_file, path))
            sha_times.append(timed(sha256_file, path))
    megabytes = size_mb * MiB / 1e6
    cid_mb_s = megabytes / statistics.median(cid_times)
    sha_mb_s = megabytes / statistics.median(sha_times)
    return {
        "cid_mb_s": round(cid_mb_s, 1),
        "sha256_mb_s": round(sha_mb_s, 1),
        "ratio": round(cid_mb_s / sha_mb_s, 3),
        "size_mb": size_mb,
        "repeat": repeat,
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--json", action="store_true", help="print only the JSON result")
    parser.add_argument("--size-mb", type=int, default=512, help="file size in MiB (default 512)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each (default 3)")
    args = parser.parse_args(argv)
    result = run(args.size_mb, args.repeat)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>12}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
