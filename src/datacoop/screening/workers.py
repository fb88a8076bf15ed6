"""Workers that run pre-screening off the request path.

:class:`WorkerPool` runs threads inside one process (``datacoop up``'s embedded
default); ``datacoop worker`` runs the same loop in its own process, any number
of them on any number of hosts sharing the database. Jobs are leased, so a
worker killed mid-job (SIGKILL, OOM) only delays its job: until a worker on the same
host sees that its process is gone (seconds), or else until the lease runs out.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from datacoop.holders import holder_name

__all__ = ["WorkerPool", "worker_name"]

log = logging.getLogger("datacoop.workers")


def worker_name(suffix: str = "") -> str:
    """The name a worker leases jobs under (``host:boot_id:pid:start_time`` + suffix; see ``holders``)."""
    return holder_name(suffix)


class WorkerPool:
    """Threads that call ``work_once(name)`` until stopped, sleeping while the queue is empty.

    Args:
        work_once: claims and processes one job; returns False when there was none.
        threads: how many jobs run at once.
        idle_s: how long an idle worker waits before looking again (``notify`` wakes it sooner).
    """

    def __init__(self, work_once: Callable[[str], bool], *, threads: int = 1, idle_s: float = 0.5) -> None:
        self._work_once, self._idle_s = work_once, idle_s
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads = [
            threading.Thread(
                target=self._loop, args=(worker_name(f"/{i}"),), name=f"datacoop-worker-{i}", daemon=True
            )
            for i in range(threads)
        ]

    def start(self) -> WorkerPool:
        for t in self._threads:
            t.start()
        return self

    def notify(self) -> None:
        """New work was queued: wake idle workers now rather than at their next look."""
        self._wake.set()

    def stop(self, timeout: float = 30) -> None:
        """Let each worker finish its current job, then stop."""
        self._stop.set()
        self._wake.set()
        for t in self._threads:
            t.join(timeout)

    def _loop(self, name: str) -> None:
        while not self._stop.is_set():
            try:
                busy = self._work_once(name)
            except Exception:  # the database went away for a moment: log, back off, go on
                log.exception("worker %s failed to take a job", name)
                busy = False
            if not busy:
                self._wake.wait(self._idle_s)
                self._wake.clear()

    def run_until_stopped(self) -> None:
        """Block the calling thread (the ``datacoop worker`` process) until ``stop``."""
        self._stop.wait()
