"""Merkle tree speed: build and every proof for N entitlements, and single-proof lookup latency.

Usage: ``python benchmarks/merkle.py --json [--n 1000000]``. Prints one JSON object:
``tree_build_s_1m`` (check values, hash, lay out the tree), ``proofs_all_s_1m`` (every proof
keyed by EIP-55 account, as ``datacoop merkle build`` prints them), ``total_s_1m`` (the two: the
settlement goal is < 10 s on one core), ``proof_lookup_ms_p99`` (one proof by ``(account,
amount)`` on the built tree), ``n``; the same two times in CPU seconds (``*_cpu_s``: steadier
than wall time on a shared machine), the Keccak backend and the peak RSS. The ``_1m`` keys hold
the times for ``n`` values, whatever ``n`` is.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import sys
import time

from datacoop import merkle


def entitlements(n: int, seed: int = 7) -> list[tuple[str, int]]:
    """N distinct random accounts with amounts up to 10**24 (a million 18-decimal tokens)."""
    rng = random.Random(seed)
    accounts = {rng.getrandbits(160) for _ in range(n)}
    while len(accounts) < n:
        accounts.add(rng.getrandbits(160))
    return [(f"0x{account:040x}", rng.randrange(1, 10**24)) for account in accounts]


def lookup_p99_ms(tree: merkle.MerkleTree, values: list[tuple[str, int]], samples: int) -> float:
    """99th percentile of one ``tree.proof((account, amount))`` call, in milliseconds."""
    rng = random.Random(11)
    timings = []
    for value in rng.sample(values, min(samples, len(values))):
        start = time.perf_counter()
        tree.proof(value)
        timings.append((time.perf_counter() - start) * 1000)
    return statistics.quantiles(timings, n=100)[98] if len(timings) > 1 else timings[0]


def run(n: int) -> dict[str, object]:
    values = entitlements(n)
    start, start_cpu = time.perf_counter(), time.process_time()
    tree = merkle.build(values)
    built, built_cpu = time.perf_counter(), time.process_time()
    proofs = tree.proofs_by_account()
    proved, proved_cpu = time.perf_counter(), time.process_time()
    assert len(proofs) == n
    return {
        "tree_build_s_1m": round(built - start, 3),
        "proofs_all_s_1m": round(proved - built, 3),
        "total_s_1m": round(proved - start, 3),
        "tree_build_cpu_s": round(built_cpu - start_cpu, 3),
        "proofs_all_cpu_s": round(proved_cpu - built_cpu, 3),
        "proof_lookup_ms_p99": round(lookup_p99_ms(tree, values, 10_000), 4),
        "n": n,
        "keccak_backend": merkle.KECCAK_BACKEND,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--json", action="store_true", help="print one JSON object (the only output form)")
    parser.add_argument("--n", type=int, default=1_000_000, help="number of entitlements")
    args = parser.parse_args(argv)
    result = run(args.n)
    json.dump(result, sys.stdout, indent=None if args.json else 2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
