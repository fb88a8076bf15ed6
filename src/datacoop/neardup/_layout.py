"""How a 64-bit hash is cut into parts, and which buckets a query must probe.

Multi-index hashing (Norouzi, Punjani and Fleet, 2012) rests on a pigeonhole
argument: cut the bits into ``m`` disjoint parts and write ``r = s*m + a`` with
``0 <= a < m``. If two hashes differ in at most ``r`` bits, then one of the
first ``a + 1`` parts differs in at most ``s`` bits, or one of the others in at
most ``s - 1`` (otherwise the total would be at least ``(a+1)(s+1) + (m-a-1)s
> r``). Probing every bucket within those per-part radii therefore finds every
true neighbour, and verifying candidates by their full distance keeps it exact.

The bits of a part need not be adjacent: a :class:`Layout` permutes the bits
first, so correlated or biased pHash bits (the DC bit is almost always set;
neighbouring DCT coefficients move together) can be spread over the parts and
every part's buckets stay evenly filled.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

HASH_BITS = 64
MAX_PART_BITS = 22  # direct-address directories of 2**22 buckets: 16 MiB of uint32 per part


@dataclass(frozen=True)
class Layout:
    """The cut of the bits into parts.

    Attributes:
        widths: bits per part, widest first (the widest parts take the larger probe radius).
        permutation: ``permutation[j]`` is the original bit that becomes permuted bit ``j``;
            part ``p`` is permuted bits ``[sum(widths[:p]), sum(widths[:p+1]))``.
    """

    widths: tuple[int, ...]
    permutation: tuple[int, ...]

    @classmethod
    def interleaved(cls, parts: int) -> Layout:
        """Bit ``i`` to part ``i % parts``: spreads pHash's row-major DCT bits when nothing is known."""
        widths = part_widths(parts)
        order = sorted(range(HASH_BITS), key=lambda bit: (bit % parts, bit))
        return cls(widths, tuple(order))

    @functools.cached_property
    def shifts(self) -> tuple[int, ...]:
        """Right shift that brings each part of a permuted hash to the low bits."""
        return tuple(int(s) for s in np.cumsum((0, *self.widths[:-1])))

    @functools.cached_property
    def bases(self) -> npt.NDArray[np.int64]:
        """First global bucket number of each part (parts share one directory)."""
        return np.cumsum([0, *(1 << w for w in self.widths[:-1])], dtype=np.int64)

    @property
    def buckets(self) -> int:
        """Number of buckets of all parts together."""
        return sum(1 << w for w in self.widths)

    def permute(self, hashes: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
        """Permuted hashes (vectorised: one table look-up per byte)."""
        return _apply(_byte_tables(self.permutation), hashes)

    def unpermute(self, hashes: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
        """Undo :meth:`permute`."""
        inverse = tuple(int(i) for i in np.argsort(self.permutation))
        return _apply(_byte_tables(inverse), hashes)

    def permute_one(self, value: int) -> int:
        """Permuted form of one hash, in plain Python (faster than numpy for a single value)."""
        tables = _byte_lists(self.permutation)
        return sum(tables[i][(value >> (8 * i)) & 0xFF] for i in range(8))

    def buckets_one(self, permuted: int) -> npt.NDArray[np.int64]:
        """Global bucket of one permuted hash in every part."""
        pairs = zip(self.shifts, self.widths, strict=True)
        keys = [(permuted >> shift) & ((1 << width) - 1) for shift, width in pairs]
        return np.asarray(keys, dtype=np.int64) + self.bases

    def part_keys(self, permuted: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
        """Global bucket of every hash in every part, shape ``(parts, n)``."""
        keys = np.empty((len(self.widths), permuted.size), dtype=np.int64)
        for part, (shift, width) in enumerate(zip(self.shifts, self.widths, strict=True)):
            keys[part] = (permuted >> np.uint64(shift)) & np.uint64((1 << width) - 1)
        return keys + self.bases[:, None]


def popcount(values: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint8]:
    """Set bits of each value (numpy >= 2 has a native kernel; older numpy counts bytes)."""
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(values).astype(np.uint8, copy=False)
    as_bytes = values.view(np.uint8).reshape(-1, 8)
    counts: npt.NDArray[np.uint8] = _BYTE_COUNTS[as_bytes].sum(axis=1, dtype=np.uint8)
    return counts


_BYTE_COUNTS = np.array([bin(v).count("1") for v in range(256)], dtype=np.uint8)


def part_widths(parts: int) -> tuple[int, ...]:
    """64 bits cut into ``parts`` near-equal widths, widest first."""
    return tuple(HASH_BITS // parts + (1 if p < HASH_BITS % parts else 0) for p in range(parts))


def part_radii(parts: int, radius: int) -> tuple[int, ...]:
    """Per-part probe radius that guarantees every neighbour within ``radius`` (-1: skip the part)."""
    s, a = divmod(radius, parts)
    return tuple(s if p <= a else s - 1 for p in range(parts))


@functools.cache
def flip_masks(width: int, radius: int) -> npt.NDArray[np.int64]:
    """Every ``width``-bit mask with at most ``radius`` bits set, fewest bits first."""
    masks = [
        sum(1 << bit for bit in bits)
        for count in range(radius + 1)
        for bits in itertools.combinations(range(width), count)
    ]
    return np.asarray(masks, dtype=np.int64)


@functools.cache
def probe_plan(layout: Layout, radius: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int64]]:
    """For a query radius: the part each probe reads and the bits it flips in that part's bucket.

    A query's buckets are ``bucket[part] ^ mask``: widths run widest first, so every part's base
    is a multiple of its own bucket count and flipping low bits never leaves the part.
    """
    parts, masks = [], []
    radii = part_radii(len(layout.widths), radius)
    for part, (width, part_radius) in enumerate(zip(layout.widths, radii, strict=True)):
        if part_radius >= 0:
            flips = flip_masks(width, part_radius)
            parts.append(np.full(flips.size, part, dtype=np.intp))
            masks.append(flips)
    return np.concatenate(parts), np.concatenate(masks)


@functools.cache
def _byte_tables(permutation: tuple[int, ...]) -> npt.NDArray[np.uint64]:
    """``tables[i][v]``: the permuted bits contributed by value ``v`` in byte ``i`` of the input."""
    target = np.argsort(permutation)  # original bit -> permuted position
    values = np.arange(256)
    tables = np.zeros((8, 256), dtype=np.uint64)
    for byte in range(8):
        for k in range(8):
            bit = np.uint64(1) << np.uint64(target[8 * byte + k])
            tables[byte] |= np.where((values >> k) & 1, bit, np.uint64(0))
    return tables


@functools.cache
def _byte_lists(permutation: tuple[int, ...]) -> list[list[int]]:
    return [[int(v) for v in row] for row in _byte_tables(permutation)]


def _apply(tables: npt.NDArray[np.uint64], hashes: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    out = np.zeros(hashes.shape, dtype=np.uint64)
    for byte in range(8):
        out |= tables[byte][((hashes >> np.uint64(8 * byte)) & np.uint64(0xFF)).astype(np.intp)]
    return out
