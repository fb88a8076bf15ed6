"""Streaming: any split of the input gives the same CID, streams of every kind, and constant memory."""

from __future__ import annotations

import io
import itertools
import os
import random
import threading
import time
from pathlib import Path

import psutil
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.unit.cid.reference import file_chunks, js_layout

from datacoop.cid import DEFAULT_PROFILE, CidBuilder, Profile, cid_of_bytes, cid_of_file, cid_of_stream

SMALL = Profile("tiny", chunk_size=16, max_links=3)
CHUNK = DEFAULT_PROFILE.chunk_size
BIG = random.Random(3).randbytes(9 * CHUNK + 777)  # threaded leaf hashing, two tree levels with width 3
BIG_CID = cid_of_bytes(BIG)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(cut % (len(data) + 1) for cut in cuts)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=2000), cuts=st.lists(st.integers(min_value=0), max_size=30))
def test_any_split_gives_the_cid_of_one_update_small_profile(data: bytes, cuts: list[int]) -> None:
    builder = CidBuilder(SMALL)
    for piece in split(data, cuts):
        builder.update(piece)
    assert builder.finish() == cid_of_bytes(data, SMALL)
    assert builder.size == len(data)


@settings(max_examples=40, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=len(BIG)), max_size=12))
def test_any_split_gives_the_cid_of_one_update_kubo_profile(cuts: list[int]) -> None:
    builder = CidBuilder()
    for piece in split(BIG, cuts):
        builder.update(piece)
    assert builder.finish() == BIG_CID


@settings(max_examples=25, deadline=None)
@given(
    head=st.integers(min_value=0, max_value=3 * CHUNK),
    most=st.integers(min_value=1000, max_value=2 * CHUNK),
)
def test_update_then_read_from_a_stream_of_short_reads(head: int, most: int) -> None:
    # Prepare: a pipe-like stream that gives at most `most` bytes per read.
    builder = CidBuilder()
    builder.update(BIG[:head])

    # Execute
    builder.read_from(ShortReads(BIG[head:], most))  # type: ignore[arg-type]

    # Assert
    assert builder.finish() == BIG_CID
    assert builder.size == len(BIG)


class ShortReads(io.RawIOBase):
    """A raw stream answering each read with at most ``most`` bytes, as pipes and sockets do."""

    def __init__(self, data: bytes, most: int) -> None:
        self._data, self._most, self._at = data, most, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self._most, len(self._data) - self._at)
        buffer[:n] = self._data[self._at : self._at + n]
        self._at += n
        return n


class NoReadinto:
    """A stream with only ``read`` (what some file-like wrappers offer)."""

    def __init__(self, data: bytes) -> None:
        self._stream = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self._stream.read(size)


def test_streams_without_readinto_are_read() -> None:
    assert cid_of_stream(NoReadinto(BIG)) == BIG_CID  # type: ignore[arg-type]


def test_buffered_and_raw_files_agree(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    path.write_bytes(BIG)
    with path.open("rb") as buffered:
        assert cid_of_stream(buffered) == BIG_CID
    assert cid_of_file(path) == BIG_CID


def test_caller_may_reuse_its_buffer_after_update() -> None:
    # Prepare: one buffer refilled for every piece, as a readinto loop does.
    buffer = bytearray(3 * CHUNK + 5)
    builder = CidBuilder()

    # Execute
    for start in range(0, len(BIG), len(buffer)):
        piece = BIG[start : start + len(buffer)]
        buffer[: len(piece)] = piece
        builder.update(memoryview(buffer)[: len(piece)])
        buffer[:] = bytes(len(buffer))  # scribble: the builder must hold nothing of ours

    # Assert
    assert builder.finish() == BIG_CID


def test_builders_run_side_by_side() -> None:
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(cid_of_bytes(BIG))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [BIG_CID] * 4


def write_pattern(path: Path, size: int, seed: int = 5) -> None:
    """A fast deterministic file: one random MiB, shifted differently for every MiB written."""
    block = random.Random(seed).randbytes(2**20 + 4096)
    with path.open("wb") as out:
        for index in range(size // 2**20):
            shift = (index * 4099) % 4096
            out.write(block[shift : shift + 2**20])


@pytest.mark.slow
def test_several_hundred_mib_file_streams_in_constant_memory(tmp_path: Path) -> None:
    # Prepare
    path = tmp_path / "big.bin"
    write_pattern(path, 384 * 2**20)
    expected = js_layout(file_chunks(str(path), CHUNK), DEFAULT_PROFILE.max_links).text
    process = psutil.Process(os.getpid())
    baseline = process.memory_info().rss
    peak = PeakRss(process)

    # Execute
    with peak:
        cid = cid_of_file(path)

    # Assert: right answer, and the builder held a few buffers, never the file.
    assert cid == expected
    assert peak.value - baseline < 64 * 2**20


class PeakRss:
    """Samples a process's resident memory every millisecond while the block runs."""

    def __init__(self, process: psutil.Process) -> None:
        self._process = process
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample)
        self.value = 0

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.value = max(self.value, self._process.memory_info().rss)
            time.sleep(0.001)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
