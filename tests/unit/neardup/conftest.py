"""Strategies for hash sets shaped like real pHash collections, and a brute-force reference."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

HASH_MAX = 2**64 - 1


@st.composite
def near(draw: st.DrawFn, center: int, max_flips: int = 10) -> int:
    """``center`` with a few bits flipped (possibly none: an exact duplicate)."""
    bits = draw(st.lists(st.integers(0, 63), max_size=max_flips))
    for bit in bits:
        center ^= 1 << bit
    return center


@st.composite
def hash_sets(draw: st.DrawFn, max_size: int = 60) -> list[int]:
    """Families of near duplicates around a few centers, plus loners; duplicates included."""
    centers = draw(st.lists(st.integers(0, HASH_MAX), min_size=1, max_size=6))
    members = draw(st.lists(st.sampled_from(centers).flatmap(near), max_size=max_size))
    loners = draw(st.lists(st.integers(0, HASH_MAX), max_size=10))
    return members + loners


@st.composite
def queries(draw: st.DrawFn, stored: list[int]) -> int:
    """A stored hash with a few flips, or an unrelated one."""
    if stored and draw(st.booleans()):
        return draw(near(draw(st.sampled_from(stored))))
    return draw(st.integers(0, HASH_MAX))


def brute_force(ids: list[int], hashes: list[int], query: int, radius: int) -> list[tuple[int, int]]:
    """Every ``(id, distance)`` within ``radius``, by distance then id: the answer to match."""
    found = [(i, (h ^ query).bit_count()) for i, h in zip(ids, hashes, strict=True)]
    return sorted(((i, d) for i, d in found if d <= radius), key=lambda m: (m[1], m[0]))


def as_arrays(ids: list[int], hashes: list[int]) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(ids, dtype=np.int64), np.asarray(hashes, dtype=np.uint64)
