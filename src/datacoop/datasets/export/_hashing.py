"""sha2-256 of many buffers beside the thread that fills them: in a second process, or inline.

CAR export hashes every byte it writes, and hashing a byte costs more than
copying it. A helper *thread* does not help much here: the thread that reads
blobs runs Python between its many short system calls and the hashing thread
queues for the GIL after each digest (measured: both threads' CPU time doubled
and the export ran at 0.4–0.6 of a plain copy). So a helper *process* hashes:
the buffers (arenas) live in memory both processes map, the parent sends the
spans of an arena it has filled and goes on filling the next one, and the
helper answers with the spans' digests, in order. No byte crosses the pipe.

:class:`ProcessHasher` needs ``os.memfd_create`` (Linux) or a temporary file to
share, and ``pass_fds`` (POSIX); :func:`open_hasher` falls back to
:class:`InlineHasher` (the same interface, hashing on the caller's thread)
where those are missing and for small exports, which would not repay the
helper's start (~20 ms).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import mmap
import os
import struct
import subprocess
import sys
import tempfile
from collections import deque
from types import TracebackType
from typing import IO

from datacoop.errors import Unavailable

__all__ = ["DIGEST_BYTES", "MAX_SPANS", "InlineHasher", "ProcessHasher", "open_hasher"]

DIGEST_BYTES = 32
# Spans per arena, at most. It bounds each request (12 bytes a span) and answer (32 bytes a span)
# so that the requests in flight always fit in a pipe's buffer (64 KiB on Linux): the parent never
# blocks on a request while the helper blocks on an answer nobody reads yet.
MAX_SPANS = 256
PROCESS_MIN_BYTES = 32 * 1024 * 1024  # below this an export hashes inline

log = logging.getLogger("datacoop.export")
_COUNT = struct.Struct("<I")
_SPAN = struct.Struct("<QI")  # offset in the shared mapping, length

# The helper: stdlib only (started with -I -S, it imports nothing of DataCoop's). It leaves Ctrl-C to
# its parent, which closes the pipe: the helper ends when its requests do, or when the parent dies.
_HELPER = """
import hashlib, mmap, signal, struct, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
fd, size = int(sys.argv[1]), int(sys.argv[2])
view = memoryview(mmap.mmap(fd, size))
requests, answers = sys.stdin.buffer, sys.stdout.buffer
count_of, span = struct.Struct("<I"), struct.Struct("<QI")
while len(head := requests.read(4)) == 4:
    spans = requests.read(count_of.unpack(head)[0] * 12)
    answers.write(b"".join(hashlib.sha256(view[o : o + n]).digest() for o, n in span.iter_unpack(spans)))
    answers.flush()
"""


class InlineHasher:
    """Arenas in this process's memory, hashed on the calling thread when sent."""

    def __init__(self, arenas: int, arena_bytes: int) -> None:
        self.arena_bytes = arena_bytes
        self._memory = bytearray(arenas * arena_bytes)
        self._view = memoryview(self._memory)
        self._answers: deque[list[bytes]] = deque()

    def arena(self, index: int) -> memoryview:
        """The ``index``-th arena, to fill."""
        return self._view[index * self.arena_bytes : (index + 1) * self.arena_bytes]

    def send(self, index: int, spans: list[tuple[int, int]]) -> None:
        """Hash these (offset, length) spans of arena ``index``; :meth:`receive` gives the digests."""
        arena = self.arena(index)
        self._answers.append([hashlib.sha256(arena[o : o + n]).digest() for o, n in spans])

    def receive(self) -> list[bytes]:
        """The digests of the oldest request not yet received, in the order of its spans."""
        return self._answers.popleft()

    def close(self) -> None:
        self._view.release()

    def __enter__(self) -> InlineHasher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ProcessHasher:
    """Arenas in a shared mapping, hashed by a helper process while the caller fills the next one."""

    def __init__(self, arenas: int, arena_bytes: int) -> None:
        self.arena_bytes = arena_bytes
        size = arenas * arena_bytes
        fd = _shared_fd(size)
        try:
            self._map = mmap.mmap(fd, size)
            self._process: subprocess.Popen[bytes] = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _HELPER, str(fd), str(size)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                pass_fds=(fd,),
            )
        finally:
            os.close(fd)  # the mapping and the helper keep the memory
        self._view = memoryview(self._map)
        assert self._process.stdin is not None and self._process.stdout is not None
        self._requests: IO[bytes] = self._process.stdin
        self._answers: IO[bytes] = self._process.stdout
        self._pending: deque[int] = deque()  # spans per request sent and not yet received

    def arena(self, index: int) -> memoryview:
        """The ``index``-th arena, to fill."""
        return self._view[index * self.arena_bytes : (index + 1) * self.arena_bytes]

    def send(self, index: int, spans: list[tuple[int, int]]) -> None:
        """Ask for the digests of these (offset, length) spans of arena ``index``."""
        if len(spans) > MAX_SPANS:
            raise ValueError(f"at most {MAX_SPANS} spans per request, not {len(spans)}")
        base = index * self.arena_bytes
        request = _COUNT.pack(len(spans)) + b"".join(_SPAN.pack(base + o, n) for o, n in spans)
        try:
            self._requests.write(request)
            self._requests.flush()
        except BrokenPipeError:
            raise self._stopped() from None
        self._pending.append(len(spans))

    def receive(self) -> list[bytes]:
        """The digests of the oldest request not yet received (waits for the helper)."""
        count = self._pending.popleft()
        answer = self._answers.read(count * DIGEST_BYTES)
        if len(answer) != count * DIGEST_BYTES:
            raise self._stopped()
        return [answer[i : i + DIGEST_BYTES] for i in range(0, len(answer), DIGEST_BYTES)]

    def close(self) -> None:
        """Stop the helper (at once if it is still hashing) and unmap the arenas."""
        for stream in (self._requests, self._answers):
            with contextlib.suppress(OSError):
                stream.close()
        if self._process.poll() is None:
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._view.release()
        with contextlib.suppress(BufferError):  # a caller still holds a slice: unmapped when it goes
            self._map.close()

    def _stopped(self) -> Unavailable:
        try:
            code = self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:  # its pipes are gone but it lingers
            self._process.kill()
            code = self._process.wait()
        return Unavailable(f"the export's hashing process stopped (exit code {code}); run the export again")

    def __enter__(self) -> ProcessHasher:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if error is not None and self._process.poll() is None:
            self._process.kill()  # its work is wasted: do not wait for it
        self.close()


def open_hasher(arenas: int, arena_bytes: int, total_bytes: int) -> InlineHasher | ProcessHasher:
    """A helper process where the platform has one and ``total_bytes`` repay its start; else inline."""
    if total_bytes < PROCESS_MIN_BYTES or os.name != "posix":
        return InlineHasher(arenas, arena_bytes)
    try:
        return ProcessHasher(arenas, arena_bytes)
    except OSError as exc:  # no interpreter to start (an embedded Python), no memory to share
        log.warning("hashing the CAR export inline: the helper process could not start (%s)", exc)
        return InlineHasher(arenas, arena_bytes)


def _shared_fd(size: int) -> int:
    """A file descriptor over ``size`` bytes of memory no path names: memfd, else an unlinked temp file."""
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("datacoop-car-arenas", os.MFD_CLOEXEC)
    else:
        handle, path = tempfile.mkstemp(prefix="datacoop-car-arenas-")
        os.unlink(path)
        fd = handle
    try:
        os.ftruncate(fd, size)
    except BaseException:
        os.close(fd)
        raise
    return fd
