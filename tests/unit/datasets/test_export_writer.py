"""The exporters' write-behind helper: gathered writes, short reads and writes, errors on either side."""

from __future__ import annotations

import io
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from datacoop.datasets.export._writer import (
    SHORT_SWITCH_SECONDS,
    Arenas,
    Buffer,
    WriteBehind,
    read_into,
    short_switch_interval,
    write_parts,
)


def _parts() -> list[Buffer]:
    """More parts than one writev takes, of every buffer kind, some empty."""
    parts: list[Buffer] = []
    for n in range(3000):
        data = bytes([n % 251]) * (n % 7)
        parts.append((bytes, bytearray, memoryview)[n % 3](data))
    return parts


def test_every_part_reaches_the_file_in_order(tmp_path: Path) -> None:
    parts = _parts()
    with (tmp_path / "out").open("wb", buffering=0) as raw:
        written = write_parts(raw.fileno(), parts)
    expected = b"".join(bytes(part) for part in parts)
    assert written == len(expected) and (tmp_path / "out").read_bytes() == expected


def test_short_writes_are_resumed_where_they_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def short_writev(
        fd: int, buffers: Sequence[Buffer]
    ) -> int:  # at most 7 bytes a call, as a full pipe might
        calls.append(len(buffers))
        return os.write(fd, b"".join(bytes(b) for b in buffers)[:7])

    monkeypatch.setattr(os, "writev", short_writev)
    parts = _parts()
    with (tmp_path / "out").open("wb", buffering=0) as raw:
        write_parts(raw.fileno(), parts)
    assert (tmp_path / "out").read_bytes() == b"".join(bytes(part) for part in parts)
    assert max(calls) <= 1024 and len(calls) > 1000


class _ReadOnly:
    """A stream with read() only (no readinto), giving at most 5 bytes a call."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def read(self, size: int = -1) -> bytes:
        piece, self._data = self._data[: min(size, 5)], self._data[min(size, 5) :]
        return piece


def test_a_region_is_filled_from_short_reads_with_or_without_readinto() -> None:
    data = os.urandom(100)
    for stream in (_ReadOnly(data), io.BufferedReader(io.BytesIO(data))):
        region = memoryview(bytearray(64))
        assert read_into(stream, region) == 64 and region.tobytes() == data[:64]  # type: ignore[arg-type]
        assert read_into(stream, region) == 36 and region[:36].tobytes() == data[64:]  # type: ignore[arg-type]
        assert read_into(stream, region) == 0  # type: ignore[arg-type]


def test_a_helper_error_reaches_the_caller_which_never_waits_for_a_buffer_in_vain() -> None:
    arenas = Arenas(2, 16)
    consumed: list[int] = []

    def consume(piece: tuple[int, bytearray]) -> None:
        if piece[0] == 3:
            raise OSError("disk full")
        consumed.append(piece[0])
        arenas.give_back(piece[1])

    with (
        pytest.raises(OSError, match="disk full"),
        WriteBehind(consume, lambda p: arenas.give_back(p[1])) as behind,
    ):
        for n in range(100):  # far more pieces than buffers: a stuck helper would hang here
            behind.put((n, arenas.take()))
    assert consumed == [0, 1, 2]


def test_a_caller_error_stops_the_helper_which_drops_what_is_queued() -> None:
    consumed: list[int] = []
    dropped: list[int] = []
    writing = threading.Event()

    def consume(piece: int) -> None:
        writing.set()
        threading.Event().wait(0.5)  # the first piece is still being written when the caller fails
        consumed.append(piece)

    with pytest.raises(ValueError, match="bad blob"), WriteBehind(consume, dropped.append) as behind:
        for n in range(5):
            behind.put(n)
        writing.wait(5)
        raise ValueError("bad blob")
    assert consumed == [0] and dropped == [1, 2, 3, 4]


def test_overlapping_exports_share_one_short_switch_interval_and_the_last_puts_it_back() -> None:
    before = sys.getswitchinterval()
    try:
        sys.setswitchinterval(0.004)
        first, second = short_switch_interval(), short_switch_interval()
        first.__enter__()
        assert sys.getswitchinterval() == pytest.approx(SHORT_SWITCH_SECONDS, abs=2e-6)
        second.__enter__()
        first.__exit__(None, None, None)  # the first export ends while the second still runs
        assert sys.getswitchinterval() == pytest.approx(SHORT_SWITCH_SECONDS, abs=2e-6)
        second.__exit__(None, None, None)
        assert sys.getswitchinterval() == pytest.approx(0.004, abs=2e-6)
        with pytest.raises(RuntimeError), short_switch_interval():
            raise RuntimeError("an export that fails")
        assert sys.getswitchinterval() == pytest.approx(0.004, abs=2e-6)
        sys.setswitchinterval(0.0001)  # already shorter: left as it is
        with short_switch_interval():
            assert sys.getswitchinterval() == pytest.approx(0.0001, abs=2e-6)
    finally:
        sys.setswitchinterval(before)
