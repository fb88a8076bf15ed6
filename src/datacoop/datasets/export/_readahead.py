"""Read ahead on one thread while the caller writes: opening, reading and hashing blobs overlap the output.

File reads and ``hashlib`` release the GIL, so a reader thread and a writer
thread run truly in parallel. The pieces travel through a queue of at most
``depth`` entries (for CAR export: blocks of at most one CID chunk), which
bounds the memory held whatever the blob sizes. The caller sees items in order and must consume each
item's pieces before asking for the next item; an error in the reader is
raised in the caller, and a caller that stops early stops the reader.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator, Iterable, Iterator
from typing import TypeVar

from datacoop.datasets.manifest import ManifestItem

__all__ = ["read_ahead"]

T = TypeVar("T")
_POLL_S = 0.1


class _End:
    """Marks the end of one item's pieces."""


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


_END_OF_ITEM = _End()


def read_ahead(
    items: Iterable[ManifestItem],
    produce: Callable[[ManifestItem], Iterator[T]],
    *,
    depth: int = 16,
) -> Generator[tuple[ManifestItem, Iterator[T]], None, None]:
    """Each item with an iterator over ``produce(item)``'s pieces, produced ahead on a reader thread."""
    pieces: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    listed: list[ManifestItem] = list(items)
    reader = threading.Thread(
        target=_read, args=(listed, produce, pieces, stop), name="datacoop-export-reader", daemon=True
    )
    reader.start()
    try:
        for item in listed:
            yield item, _item_pieces(pieces)
    finally:
        stop.set()
        reader.join()


def _item_pieces(pieces: queue.Queue[object]) -> Iterator[T]:
    while True:
        piece = pieces.get()
        if isinstance(piece, _Failed):
            raise piece.error
        if piece is _END_OF_ITEM:
            return
        yield piece  # type: ignore[misc]  # only the producer's pieces are left


def _read(
    items: list[ManifestItem],
    produce: Callable[[ManifestItem], Iterator[T]],
    pieces: queue.Queue[object],
    stop: threading.Event,
) -> None:
    def put(entry: object) -> bool:
        while not stop.is_set():
            try:
                pieces.put(entry, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    try:
        for item in items:
            for piece in produce(item):
                if not put(piece):
                    return
            if not put(_END_OF_ITEM):
                return
    except BaseException as exc:  # handed to the caller, which raises it
        put(_Failed(exc))
