"""Moving blob bytes with no copy in Python, and work behind: a helper thread that hashes what is written.

:func:`read_into` reads a blob straight into a region of a big buffer and
:func:`write_parts` writes a list of buffers with one ``writev``: the bytes are
copied only by the kernel, into the buffer and out of it (tar shards use just these).

CAR export also hashes every byte. Opening a blob is mostly Python (a store
resolves a path per CID) and holds the GIL, while ``hashlib`` and system calls
release it; so the caller opens blobs, reads their chunks into a few
:class:`Arenas` and writes them, and one helper thread (:class:`WriteBehind`)
takes the queued work in order: hashes each chunk and gives each arena back
once its bytes are hashed. The arenas bound the memory held whatever the blob
sizes: the caller waits for a free one. (A helper that only writes, for tar shards,
gained nothing when measured: the GIL-bound work stays on the caller.)

While two threads share the work, :func:`short_switch_interval` lets the one
that waits for the GIL get it sooner (see there).

An error on the helper is raised in the caller (at its next :meth:`WriteBehind.put`
or when the block ends); an error in the caller stops the helper, which drops
the work still queued.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import BinaryIO, Generic, TypeVar

__all__ = ["Arenas", "Buffer", "Parts", "WriteBehind", "read_into", "short_switch_interval", "write_parts"]

T = TypeVar("T")
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


# How long a thread waiting for the GIL waits before it asks the holder to give it up, while an
# export's two threads run. CPython's default is 5 ms.
SHORT_SWITCH_SECONDS = 0.0002
_switch_lock = threading.Lock()
_switch_users = 0
_switch_saved = 0.0


@contextmanager
def short_switch_interval() -> Iterator[None]:
    """Shorten the interpreter's thread switch interval to 0.2 ms while the block runs.

    The reading thread makes many short system calls and takes the GIL straight
    back after each, before the hashing thread, woken to take it, gets there: the
    hasher then waits a whole switch interval (5 ms) for every chunk. Measured on
    CAR export, 10,000 blobs of 100 KB: 0.60 of a plain copy's speed at 5 ms,
    0.75 at 0.2 ms. The setting is the process's; overlapping exports share one
    change, and the last to finish puts the old value back.
    """
    global _switch_users, _switch_saved
    with _switch_lock:
        if _switch_users == 0:
            _switch_saved = sys.getswitchinterval()
            sys.setswitchinterval(min(_switch_saved, SHORT_SWITCH_SECONDS))
        _switch_users += 1
    try:
        yield
    finally:
        with _switch_lock:
            _switch_users -= 1
            if _switch_users == 0:
                sys.setswitchinterval(_switch_saved)


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


class Arenas:
    """``count`` buffers of ``size`` bytes, filled by the reader and given back by the writer.

    :meth:`take` waits while every buffer is in use: this is what bounds an export's memory.
    """

    def __init__(self, count: int, size: int) -> None:
        self.size = size
        self._free: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
        for _ in range(count):
            self._free.put(bytearray(size))

    def take(self) -> bytearray:
        return self._free.get()

    def give_back(self, arena: bytearray) -> None:
        self._free.put(arena)


class _Stop:
    """Tells the helper that no piece follows."""


_STOP = _Stop()


class WriteBehind(Generic[T]):
    """Runs ``consume(piece)`` on one helper thread for every piece :meth:`put`, in order.

    Use it as a context manager: leaving the block normally waits for every piece
    and raises the helper's error, if it had one; leaving it with an exception
    makes the helper pass the pieces still queued to ``discard`` instead.
    The queue itself is unbounded: pieces should hold buffers taken from :class:`Arenas`.

    Args:
        consume: what to do with each piece (runs on the helper thread).
        discard: what to do with a piece that will not be consumed (give its buffer back).
    """

    def __init__(self, consume: Callable[[T], None], discard: Callable[[T], None]) -> None:
        self._consume = consume
        self._discard = discard
        self._pieces: queue.SimpleQueue[T | _Stop] = queue.SimpleQueue()
        self._error: BaseException | None = None
        self._abandoned = False
        self._thread = threading.Thread(target=self._run, name="datacoop-export-writer", daemon=True)

    def __enter__(self) -> WriteBehind[T]:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._abandoned = self._abandoned or error is not None
        self._pieces.put(_STOP)
        self._thread.join()
        if error is None:
            self._raise_helper_error()

    def put(self, piece: T) -> None:
        """Queue ``piece`` for the helper; raises the helper's error if it has failed."""
        self._raise_helper_error()
        self._pieces.put(piece)

    def _raise_helper_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            self._abandoned = True  # nothing more is written after a failure
            raise error

    def _run(self) -> None:
        while not isinstance(piece := self._pieces.get(), _Stop):
            if self._error is not None or self._abandoned:
                self._discard(piece)
                continue
            try:
                self._consume(piece)
            except BaseException as exc:  # raised in the caller
                self._error = exc
                self._discard(piece)
