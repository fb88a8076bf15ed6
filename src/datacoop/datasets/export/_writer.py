"""Moving blob bytes with no copy in Python: read into a region of a buffer, write many buffers at once.

:func:`read_into` reads a blob straight into a region of a big buffer and
:func:`write_parts` writes a list of buffers with one ``writev``: the bytes are
copied only by the kernel, into the buffer and out of it. Tar shards and CAR
files are written this way; CAR export also hashes every byte, in a helper
process (:mod:`._hashing`). (A helper *thread* that only writes gained nothing
when measured for tar shards; one that hashed and wrote for CAR queued for the GIL.)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import BinaryIO

__all__ = ["Buffer", "Parts", "read_into", "write_parts"]

Buffer = bytes | bytearray | memoryview
_IOV_MAX = 1024  # POSIX guarantees at least 16; Linux and macOS take 1024 buffers per writev
if hasattr(os, "sysconf") and "SC_IOV_MAX" in os.sysconf_names:
    _IOV_MAX = max(16, min(_IOV_MAX, os.sysconf("SC_IOV_MAX")))


def write_parts(fd: int, parts: Sequence[Buffer]) -> int:
    """Write every part, in order, to the file descriptor ``fd``; returns the bytes written.

    Parts go out with gathered writes (``writev``) where the OS has them, so none is copied.
    """
    total = 0
    if len(parts) == 1 or not hasattr(os, "writev"):  # one buffer (or Windows): plain writes
        for part in parts:
            view = memoryview(part)
            total += len(view)
            while view:
                view = view[os.write(fd, view) :]
        return total
    pending = list(parts)
    start = 0
    while start < len(pending):
        batch = pending[start : start + _IOV_MAX]
        written = os.writev(fd, batch)
        if written == 0 and any(batch):
            raise OSError(f"writev wrote nothing to file descriptor {fd}")
        total += written
        for part in batch:  # skip what was written; a part written in half keeps its tail
            if written < len(part):
                pending[start] = memoryview(part)[written:]
                break
            written -= len(part)
            start += 1
    return total


def read_into(blob: BinaryIO, region: memoryview) -> int:
    """Fill ``region`` from ``blob``; fewer bytes only at the blob's end. Returns the bytes read."""
    readinto: Callable[[memoryview], int | None] | None = getattr(blob, "readinto", None)
    got = 0
    while got < len(region):
        if readinto is not None:
            count = readinto(region[got:]) or 0
        else:  # a stream with only read(): one copy
            chunk = blob.read(len(region) - got)
            count = len(chunk)
            region[got : got + count] = chunk
        if not count:
            break
        got += count
    return got


class Parts:
    """Bytes gathered as a list of parts (none copied), with their total length."""

    def __init__(self) -> None:
        self.parts: list[Buffer] = []
        self.size = 0

    def add(self, part: Buffer) -> None:
        self.parts.append(part)
        self.size += len(part)

    def take(self) -> list[Buffer]:
        """The parts gathered so far; the list starts again empty."""
        parts, self.parts, self.size = self.parts, [], 0
        return parts
