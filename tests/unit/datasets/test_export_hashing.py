"""The CAR export's hashers: a helper process over shared arenas, and the inline fallback."""

from __future__ import annotations

import hashlib
import os
import signal
from pathlib import Path

import pytest
from tests.unit.datasets._export_samples import mixed_dataset, store_at

from datacoop.datasets.export import _hashing, car
from datacoop.datasets.export._hashing import MAX_SPANS, InlineHasher, ProcessHasher, open_hasher
from datacoop.errors import Unavailable

_ARENAS, _ARENA_BYTES = 4, 64 * 1024


def _fill(hasher: InlineHasher | ProcessHasher, index: int) -> list[tuple[int, int]]:
    """Random bytes in arena ``index``, cut into spans of uneven lengths (an empty one too)."""
    arena = hasher.arena(index)
    arena[:] = os.urandom(len(arena))
    lengths = [0, 1, 31, 4096, 10_000, 333, 65_536 - 14_462]
    spans, offset = [], 0
    for length in lengths:
        spans.append((offset, length))
        offset += length
    return spans


@pytest.mark.parametrize("kind", [InlineHasher, ProcessHasher])
def test_pipelined_requests_come_back_in_order_as_hashlib_digests(
    kind: type[InlineHasher | ProcessHasher],
) -> None:
    with kind(_ARENAS, _ARENA_BYTES) as hasher:
        expected = []
        for index in range(_ARENAS):  # every arena in flight before the first answer is read
            spans = _fill(hasher, index)
            arena = bytes(hasher.arena(index))
            expected.append([hashlib.sha256(arena[o : o + n]).digest() for o, n in spans])
            hasher.send(index, spans)
        assert [hasher.receive() for _ in range(_ARENAS)] == expected


def test_full_requests_in_every_arena_do_not_block_the_pipes() -> None:
    # The most spans an arena may have, four arenas in flight: requests and answers must fit the pipes.
    with ProcessHasher(_ARENAS, _ARENA_BYTES) as hasher:
        spans = [(i * 16, 16) for i in range(MAX_SPANS)]
        for round_ in range(3):
            for index in range(_ARENAS):
                hasher.arena(index)[:] = bytes([round_ + index]) * _ARENA_BYTES
                hasher.send(index, spans)
            for index in range(_ARENAS):
                assert hasher.receive() == [hashlib.sha256(bytes([round_ + index]) * 16).digest()] * MAX_SPANS
        with pytest.raises(ValueError, match=f"at most {MAX_SPANS} spans"):
            hasher.send(0, [*spans, (0, 1)])


def test_a_helper_that_dies_is_reported_not_waited_for() -> None:
    with ProcessHasher(_ARENAS, _ARENA_BYTES) as hasher:
        spans = _fill(hasher, 0)
        os.kill(hasher._process.pid, signal.SIGKILL)
        hasher._process.wait()
        with pytest.raises(Unavailable, match=r"hashing process stopped \(exit code -9\)"):
            hasher.send(0, spans)
            hasher.receive()


def test_closing_ends_the_helper_and_an_error_kills_it() -> None:
    with ProcessHasher(_ARENAS, _ARENA_BYTES) as hasher:
        hasher.send(0, _fill(hasher, 0))
        hasher.receive()
    assert hasher._process.returncode == 0  # it saw the end of its requests and left
    with pytest.raises(KeyError), ProcessHasher(_ARENAS, _ARENA_BYTES) as failing:
        failing.send(0, [(0, _ARENA_BYTES)] * 8)  # work it will not finish
        raise KeyError("the export failed")
    assert failing._process.returncode is not None


def test_small_exports_hash_inline_and_big_ones_in_a_helper(monkeypatch: pytest.MonkeyPatch) -> None:
    with open_hasher(_ARENAS, _ARENA_BYTES, _hashing.PROCESS_MIN_BYTES - 1) as small:
        assert isinstance(small, InlineHasher)
    with open_hasher(_ARENAS, _ARENA_BYTES, _hashing.PROCESS_MIN_BYTES) as big:
        assert isinstance(big, ProcessHasher if os.name == "posix" else InlineHasher)


def test_a_helper_that_cannot_start_leaves_the_export_to_hash_inline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_hashing.sys, "executable", "/nonexistent/python")
    with open_hasher(_ARENAS, _ARENA_BYTES, _hashing.PROCESS_MIN_BYTES) as hasher:
        assert isinstance(hasher, InlineHasher)
        hasher.send(0, [(0, 3)])
        assert hasher.receive() == [hashlib.sha256(bytes(hasher.arena(0)[:3])).digest()]


def test_a_car_export_whose_helper_is_killed_stops_with_a_clear_error_and_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_hashing, "PROCESS_MIN_BYTES", 0)
    monkeypatch.setattr(car, "_ARENA_BYTES", 1 << 20)
    store = store_at(tmp_path)
    version, _ = mixed_dataset(store)  # 3.8 MB: several arenas' worth
    receive = ProcessHasher.receive

    def killed_first(self: ProcessHasher) -> list[bytes]:
        os.kill(self._process.pid, signal.SIGKILL)
        return receive(self)

    monkeypatch.setattr(ProcessHasher, "receive", killed_first)
    with pytest.raises(Unavailable, match="hashing process stopped"):
        car.export(version, store.open, tmp_path / "out", blob_profile=lambda c: store.stat(c).profile)
    assert list((tmp_path / "out").iterdir()) == []
