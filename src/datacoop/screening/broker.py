"""Pre-screening fed by a real broker: Redis or RabbitMQ, through Dramatiq.

The database stays the source of truth (``screening_jobs``); a message only says
"look at submission N". The ``prescreen`` actor leases that submission's job and
returns after its result is committed, so Dramatiq acknowledges the message only
then. A worker killed mid-job leaves its messages unacknowledged and the broker
hands them to another worker: RabbitMQ when the connection drops, Redis once the
dead worker's heartbeat is older than ``broker_heartbeat_seconds``. Running a job
twice is harmless (one ``prescreens`` row per submission). A crash between the
database commit and the publish would lose the message, so :class:`Sweeper`
re-publishes jobs left queued, or leased by a worker that died.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import dramatiq
import redis
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.errors import BrokerConnectionError

from datacoop.errors import InvalidInput, Unavailable
from datacoop.screening.workers import worker_name
from datacoop.settings import BROKER_SCHEMES, broker_url_problem

__all__ = ["BrokerConfig", "BrokerWorkers", "PrescreenBroker", "Sweeper", "check_broker_url"]

log = logging.getLogger("datacoop.broker")
MAX_RETRIES = 3  # a job that raises (the database was away) is retried with backoff, then left to the sweeper
REDIS_NAMESPACE = "datacoop"

# Leases and processes one submission's job; None when finished, else how long another worker's lease runs.
Handler = Callable[[int, str], timedelta | None]


def check_broker_url(url: str) -> str:
    """The URL, if its scheme is one Dramatiq speaks here; else InvalidInput naming ``broker_url``."""
    problem = broker_url_problem(url)
    if problem:
        raise InvalidInput(problem, field="broker_url", limit=[f"{s}://" for s in BROKER_SCHEMES])
    return url


@dataclass(frozen=True)
class BrokerConfig:
    """Where the broker is and how it treats a dead worker."""

    url: str
    queue: str = "datacoop-prescreen"
    lease: timedelta = timedelta(minutes=5)  # the job lease; the actor's time limit is twice this
    heartbeat: timedelta = timedelta(seconds=60)  # Redis: silent this long = dead
    maintenance: float = 0.01  # Redis: share of calls that also re-queue dead workers' messages

    @property
    def is_redis(self) -> bool:
        return self.url.lower().startswith(("redis://", "rediss://"))


def build_broker(config: BrokerConfig) -> dramatiq.Broker:
    """A Dramatiq broker for the URL; it connects on first use."""
    check_broker_url(config.url)
    if config.is_redis:
        return RedisBroker(  # type: ignore[no-untyped-call]
            url=config.url,
            namespace=REDIS_NAMESPACE,
            heartbeat_timeout=int(config.heartbeat.total_seconds() * 1000),
            maintenance_chance=max(1, round(config.maintenance * 1_000_000)),
        )
    return RabbitmqBroker(url=config.url, confirm_delivery=True)  # publish returns once RabbitMQ has it


class PrescreenBroker:
    """The broker, the ``prescreen`` actor on one queue, and the way to publish to it.

    Args:
        config: the broker's URL, queue and timings.
        handler: runs one submission's job (``ScreeningService.work_on``); called only in worker processes.
    """

    def __init__(self, config: BrokerConfig, handler: Handler) -> None:
        self.config, self._handler = config, handler
        self.broker = build_broker(config)
        lease_ms = int(config.lease.total_seconds() * 1000)
        self._actor: dramatiq.Actor[[int], None] = dramatiq.actor(
            broker=self.broker,
            actor_name="prescreen",
            queue_name=config.queue,
            max_retries=MAX_RETRIES,
            min_backoff=1_000,
            max_backoff=60_000,
            time_limit=2 * lease_ms,  # past the lease another worker may take the job: stop this one
        )(self._prescreen)

    def publish(self, submission_id: int, *, delay: timedelta | None = None) -> None:
        """Send one message for the submission; Unavailable when the broker cannot take it."""
        delay_ms = int(delay.total_seconds() * 1000) if delay is not None else None
        try:
            self._actor.send_with_options(args=(submission_id,), delay=delay_ms)
        except (BrokerConnectionError, redis.RedisError, OSError) as exc:
            raise Unavailable(f"the broker cannot be reached: {exc}", field="broker_url") from exc

    def offer(self, submission_id: int) -> bool:
        """Publish after a commit; a broker that is down is logged, and the sweeper publishes later."""
        try:
            self.publish(submission_id)
        except Unavailable as exc:
            log.warning("submission %s not published (%s); the sweeper will publish it", submission_id, exc)
            return False
        return True

    def _prescreen(self, submission_id: int) -> None:
        wait = self._handler(submission_id, worker_name(f"/{threading.get_native_id()}"))
        if wait is not None:  # a live worker holds the lease: look again when it runs out
            self.publish(submission_id, delay=wait + timedelta(seconds=1))

    def close(self) -> None:
        self.broker.close()


class Sweeper:
    """Re-publishes, every ``every``, the jobs a broker may never have carried.

    Args:
        overdue: marks and returns the submission ids to publish (``ScreeningService.overdue``).
        publish: sends one message.
        every: how long between sweeps.
    """

    def __init__(
        self, overdue: Callable[[], list[int]], publish: Callable[[int], None], every: timedelta
    ) -> None:
        self._overdue, self._publish, self._every = overdue, publish, every.total_seconds()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="datacoop-sweeper", daemon=True)

    def sweep(self) -> int:
        """One pass; how many jobs were re-published."""
        ids = self._overdue()
        for submission_id in ids:
            self._publish(submission_id)
        if ids:
            log.info("re-published %d pre-screening job(s)", len(ids))
        return len(ids)

    def start(self) -> Sweeper:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.wait(self._every):
            try:
                self.sweep()
            except Exception:  # the database or the broker went away for a moment: next sweep
                log.exception("sweep failed")


class BrokerWorkers:
    """Dramatiq worker threads consuming the prescreen queue in this process, plus one sweeper.

    Args:
        queue: the broker and its actor.
        overdue: what the sweeper asks for (``ScreeningService.overdue`` with its age bound).
        threads: jobs run at once.
        sweep_every: how long between sweeps.
    """

    def __init__(
        self,
        queue: PrescreenBroker,
        overdue: Callable[[], list[int]],
        *,
        threads: int = 1,
        sweep_every: timedelta = timedelta(seconds=60),
    ) -> None:
        self._queue = queue
        self._worker = dramatiq.Worker(queue.broker, queues={queue.config.queue}, worker_threads=threads)
        self.sweeper = Sweeper(overdue, queue.publish, sweep_every)

    def start(self) -> BrokerWorkers:
        self._worker.start()
        self.sweeper.start()
        return self

    def stop(self, timeout: float = 30) -> None:
        """Let each thread finish (and acknowledge) its current job, hand prefetched messages back, stop."""
        self.sweeper.stop()
        self._worker.stop(timeout=int(timeout * 1000))
