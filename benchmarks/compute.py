"""Compute-to-data sandbox cost: start-up of a trivial job, and streaming a version inside vs outside.

Usage: ``python benchmarks/compute.py --json [--size-mb 1024] [--item-mb 1] [--starts 11] [--repeat 3]``.

* ``sandbox_start_ms_p50``: wall time of a job whose ``run`` returns at once, through the whole
  sandbox (bubblewrap, namespaces, seccomp, the runner, collecting ``/out``), median of
  ``--starts`` runs; ``plain_start_ms_p50`` is the same interpreter starting outside, for scale.
* ``sandbox_read_ratio``: a job streams every item of a ``--size-mb`` version (items of
  ``--item-mb``) in 1 MiB ``readinto`` calls inside the sandbox; the same loop runs outside in a
  plain child of the same interpreter. Both time only their loop (the best of 3 passes), the
  page cache is warm, the two alternate ``--repeat`` times; the ratio is the median of inside /
  outside throughput (goal >= 0.9).

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from datacoop.compute.mounts import choose_interpreter
from datacoop.compute.sandbox import Limits, prepare_dirs, run_sandboxed, seal_read_only, unseal

MiB = 1024 * 1024
STREAM = """
import json, os, sys, time

def stream(data_dir):
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    items = os.path.join(data_dir, "items")
    start, total = time.perf_counter(), 0
    for name in sorted(os.listdir(items)):
        with open(os.path.join(items, name), "rb", buffering=0) as f:
            while n := f.readinto(view):
                total += n
    return total, time.perf_counter() - start

def best(data_dir, passes=3):  # the fastest of a few passes: the machine's other load is not the sandbox's
    runs = [stream(data_dir) for _ in range(passes)]
    return {"bytes": runs[0][0], "seconds": min(r[1] for r in runs)}

def run(data_dir, out_dir):
    json.dump(best(data_dir), open(os.path.join(out_dir, "r.json"), "w"))

if __name__ == "__main__":
    print(json.dumps(best(sys.argv[1])))
"""


def make_version(data: Path, size_mb: int, item_mb: int) -> None:
    items = data / "items"
    items.mkdir()
    block = os.urandom(item_mb * MiB)
    for index in range(max(size_mb // item_mb, 1)):
        (items / f"{index:06d}.bin").write_bytes(block[index % 4096 :] + block[: index % 4096])


def job_root(base: Path, name: str, source: str, size_mb: int = 0, item_mb: int = 1) -> Path:
    root = base / name
    root.mkdir()
    dirs = prepare_dirs(root)
    (dirs["algo"] / "algorithm.py").write_text(source)
    if size_mb:
        make_version(dirs["data"], size_mb, item_mb)
    seal_read_only(dirs["algo"])
    seal_read_only(dirs["data"])
    return root


def start_ms(base: Path, starts: int) -> tuple[float, float]:
    sandboxed, plain = [], []
    python = choose_interpreter().executable
    for i in range(starts):
        root = job_root(base, f"start{i}", "def run(data_dir, out_dir):\n    pass\n")
        began = time.perf_counter()
        result = run_sandboxed(root, "algorithm:run", Limits())
        sandboxed.append((time.perf_counter() - began) * 1000)
        assert result.status == "finished", result.log
        began = time.perf_counter()
        subprocess.run([python, "-I", "-S", "-c", "pass"], check=True)
        plain.append((time.perf_counter() - began) * 1000)
    return statistics.median(sandboxed), statistics.median(plain)


def read_ratio(base: Path, size_mb: int, item_mb: int, repeat: int) -> tuple[list[float], float, float]:
    root = job_root(base, "stream", STREAM, size_mb, item_mb)
    python = choose_interpreter().executable
    outside = [python, "-I", "-S", str(root / "algo" / "algorithm.py"), str(root / "data")]
    subprocess.run(outside, check=True, capture_output=True)  # warm the page cache
    limits = Limits(cpu_seconds=3600, wall_seconds=3600)
    ratios, inside_mb_s, outside_mb_s = [], [], []
    for _ in range(repeat):
        shutil.rmtree(root / "out")
        (root / "out").mkdir(mode=0o700)
        result = run_sandboxed(root, "algorithm:run", limits)
        assert result.status == "finished", result.log
        inside = json.loads((root / "out" / "r.json").read_text())
        plain = json.loads(subprocess.run(outside, check=True, capture_output=True, text=True).stdout)
        inside_mb_s.append(inside["bytes"] / MiB / inside["seconds"])
        outside_mb_s.append(plain["bytes"] / MiB / plain["seconds"])
        ratios.append(inside_mb_s[-1] / outside_mb_s[-1])
    return ratios, statistics.median(inside_mb_s), statistics.median(outside_mb_s)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true", help="print JSON (the only output)")
    parser.add_argument("--size-mb", type=int, default=1024, help="size of the version streamed")
    parser.add_argument("--item-mb", type=int, default=1, help="size of one item")
    parser.add_argument("--starts", type=int, default=11, help="trivial jobs timed")
    parser.add_argument("--repeat", type=int, default=3, help="inside/outside pairs")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="datacoop-bench-compute-"))
    base.chmod(0o711)  # the sandbox's uid passes through to each job's folder
    try:
        sandbox_ms, plain_ms = start_ms(base, args.starts)
        ratios, inside, outside = read_ratio(base, args.size_mb, args.item_mb, args.repeat)
    finally:
        unseal(base)
        shutil.rmtree(base)
    report = {
        "sandbox_start_ms_p50": round(sandbox_ms, 1), "plain_start_ms_p50": round(plain_ms, 1),
        "sandbox_read_ratio": round(statistics.median(ratios), 3),
        "read_ratios": [round(r, 3) for r in ratios],
        "inside_mb_s": round(inside), "outside_mb_s": round(outside), "size_mb": args.size_mb,
        "item_mb": args.item_mb, "cpus": len(os.sched_getaffinity(0)),
    }  # fmt: skip
    json.dump(report, sys.stdout)
    print()


if __name__ == "__main__":
    main()
