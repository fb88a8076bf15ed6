"""Leaf hashing, spread over the machine's cores, with digests handed on in file order.

hashlib releases the GIL while it hashes a buffer of more than 2 KiB, so a few
threads hash 256 KiB leaves truly in parallel. Work is queued as tasks of
several whole chunks (one future per chunk costs more than it saves) and
results are consumed strictly oldest first, so the tree sees leaves in order.
At most ``max_pending`` tasks are in flight, which bounds the memory held.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import NamedTuple

__all__ = ["LeafHasher"]

PARALLEL_MIN_CHUNK = 64 * 1024  # below this a task's hashing is too short to repay the hand-off
_TASK_BYTES = 2 * 1024 * 1024  # about 1 ms of sha2-256: hand-off costs stay a few percent


def _worker_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@functools.cache
def _shared_pool() -> ThreadPoolExecutor:
    # One pool per process: concurrent builders (many uploads) share the cores instead of each
    # starting threads; created on first use so small inputs never start a thread.
    return ThreadPoolExecutor(max_workers=_worker_count(), thread_name_prefix="datacoop-cid")


if hasattr(os, "register_at_fork"):  # a forked child has none of the parent's threads
    os.register_at_fork(after_in_child=_shared_pool.cache_clear)


def _digests(chunks: list[memoryview]) -> list[bytes]:
    return [hashlib.sha256(chunk).digest() for chunk in chunks]


class _Task(NamedTuple):
    future: Future[list[bytes]]
    owner: bytearray | None  # the buffer to recycle once this (its last) task is done


class LeafHasher:
    """Hashes whole chunks and calls ``sink(digest, chunk_size)`` for each, in order.

    Args:
        chunk_size: the size of every chunk handed in.
        sink: receives each leaf's sha2-256 digest and size, first chunk first.
    """

    def __init__(self, chunk_size: int, sink: Callable[[bytes, int], None]) -> None:
        self._chunk_size = chunk_size
        self._sink = sink
        self._workers = _worker_count() if chunk_size >= PARALLEL_MIN_CHUNK else 1
        self._per_task = max(1, _TASK_BYTES // chunk_size)
        self._max_pending = 2 * self._workers
        self._pending: deque[_Task] = deque()
        self._free: dict[int, list[bytearray]] = {}

    def take_buffer(self, size: int) -> bytearray:
        """A buffer of ``size`` bytes to fill and hand back through :meth:`hash_chunks`."""
        free = self._free.get(size)
        return free.pop() if free else bytearray(size)

    def recycle(self, buffer: bytearray) -> None:
        """Keep ``buffer`` for a later :meth:`take_buffer` (it holds nothing of value)."""
        self._free.setdefault(len(buffer), []).append(buffer)

    def hash_chunks(self, view: memoryview, owner: bytearray | None = None) -> None:
        """Hash every chunk of ``view`` (its length is a multiple of the chunk size).

        Args:
            view: the chunks' bytes.
            owner: the builder's buffer under ``view``, recycled once hashed; ``None`` means the
                memory is the caller's, so everything is hashed before this returns.
        """
        chunks = [view[start : start + self._chunk_size] for start in range(0, len(view), self._chunk_size)]
        if self._workers == 1 or (owner is None and len(chunks) == 1):
            self.drain()  # earlier chunks reach the sink first
            self._deliver(_digests(chunks), owner)
            return
        per_task = min(self._per_task, -(-len(chunks) // self._workers))
        for start in range(0, len(chunks), per_task):
            last = start + per_task >= len(chunks)
            self._submit(chunks[start : start + per_task], owner if last else None)
        if owner is None:
            self.drain()

    def drain(self) -> None:
        """Wait for every task in flight and deliver its digests."""
        while self._pending:
            self._complete_oldest()

    def _submit(self, chunks: list[memoryview], owner: bytearray | None) -> None:
        while len(self._pending) >= self._max_pending:
            self._complete_oldest()
        self._pending.append(_Task(_shared_pool().submit(_digests, chunks), owner))

    def _complete_oldest(self) -> None:
        task = self._pending.popleft()
        self._deliver(task.future.result(), task.owner)

    def _deliver(self, digests: list[bytes], owner: bytearray | None) -> None:
        for digest in digests:
            self._sink(digest, self._chunk_size)
        if owner is not None:
            self.recycle(owner)
