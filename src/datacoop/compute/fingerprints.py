"""The raw-item rule: no output may contain a run of any input blob's bytes.

Every input is cut into aligned blocks of ``window`` bytes and each block's polynomial
hash is kept. An output is scanned with the same hash over *every* offset (a rolling
hash, computed with NumPy prefix sums in wrapping 64-bit arithmetic), so any copy of
an input at least two windows long is found wherever it sits in the output; a hash
hit is confirmed byte for byte before it counts. Inputs shorter than two windows are
compared whole. This catches copying (also inside an uncompressed container, or
after other bytes); it does not catch re-encoding, which is why output types are
restricted too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = ["Fingerprints", "Match", "choose_window"]

_BASE = np.uint64(0x100000001B3)  # odd, so invertible modulo 2**64
_BASE_INV = np.uint64(pow(int(_BASE), -1, 1 << 64))
_CHUNK = 1 << 20  # outputs are hashed a MiB at a time (arrays of 8 bytes per byte)
MIN_WINDOW, MAX_WINDOW = 64, 4096

U64 = npt.NDArray[np.uint64]


def choose_window(sizes: Iterable[int]) -> int:
    """4 KiB, or half the smallest input when inputs are small (never under 64 bytes)."""
    smallest = min((s for s in sizes if s > 0), default=2 * MAX_WINDOW)
    return max(MIN_WINDOW, min(MAX_WINDOW, smallest // 2))


def _powers(n: int, base: np.uint64) -> U64:
    out = np.empty(n, dtype=np.uint64)
    if n:
        out[0] = 1
        np.cumprod(np.full(n - 1, base, dtype=np.uint64), out=out[1:])
    return out


def _window_hashes(data: bytes, window: int) -> U64:
    """The hash of data[i:i+window] for every i (wrapping uint64 arithmetic)."""
    n = len(data)
    if n < window:
        return np.empty(0, dtype=np.uint64)
    values = np.frombuffer(data, dtype=np.uint8).astype(np.uint64)
    prefix = np.zeros(n + 1, dtype=np.uint64)
    np.cumsum(values * _powers(n, _BASE), out=prefix[1:])
    return (prefix[window:] - prefix[:-window]) * _powers(n - window + 1, _BASE_INV)


def _block_hashes(data: bytes, window: int) -> U64:
    count = len(data) // window
    blocks = np.frombuffer(data, dtype=np.uint8, count=count * window).astype(np.uint64)
    weighted = blocks.reshape(count, window) * _powers(window, _BASE)
    summed: U64 = weighted.sum(axis=1, dtype=np.uint64)
    return summed


@dataclass(frozen=True)
class Match:
    """Where an output repeats an input: the input's name and the offsets in each."""

    input_name: str
    input_offset: int
    output_offset: int


@dataclass
class Fingerprints:
    """Block fingerprints of every input; :meth:`find` looks for them in an output."""

    window: int
    _blocks: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    _inputs: list[tuple[str, bytes]] = field(default_factory=list)
    _small: list[int] = field(default_factory=list)
    _keys: U64 = field(default_factory=lambda: np.empty(0, dtype=np.uint64))

    @classmethod
    def of_files(cls, paths: list[Path], window: int | None = None) -> Fingerprints:
        sizes = [p.stat().st_size for p in paths]
        prints = cls(window or choose_window(sizes))
        for p in paths:
            prints.add(p.name, p.read_bytes())
        return prints.seal()

    def add(self, name: str, data: bytes) -> None:
        index = len(self._inputs)
        self._inputs.append((name, data))
        if len(data) < 2 * self.window:  # too short to be sure of a whole block in a copy
            self._small.append(index)
            return
        for k, h in enumerate(_block_hashes(data, self.window).tolist()):
            self._blocks.setdefault(h, []).append((index, k * self.window))

    def seal(self) -> Fingerprints:
        self._keys = np.fromiter(self._blocks, dtype=np.uint64, count=len(self._blocks))
        return self

    def find(self, data: bytes) -> Match | None:
        """The first place ``data`` repeats a block of an input, or None."""
        for index in self._small:
            name, raw = self._inputs[index]
            if raw and (at := data.find(raw)) >= 0:
                return Match(name, 0, at)
        step = _CHUNK
        for start in range(0, max(len(data) - self.window + 1, 0), step):
            piece = data[start : start + step + self.window - 1]
            hashes = _window_hashes(piece, self.window)
            for offset in np.flatnonzero(np.isin(hashes, self._keys)).tolist():
                found = self._confirm(data, start + offset, int(hashes[offset]))
                if found is not None:
                    return found
        return None

    def _confirm(self, data: bytes, at: int, h: int) -> Match | None:
        window = data[at : at + self.window]
        for index, offset in self._blocks.get(h, []):
            name, raw = self._inputs[index]
            if raw[offset : offset + self.window] == window:
                return Match(name, offset, at)
        return None
