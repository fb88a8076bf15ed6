"""What GET /metrics exposes to Prometheus: request latencies, and the node's queues read at scrape time.

Each node owns its registry (no process-global one: tests and several nodes in one process stay apart).
Request latency is observed by the API's middleware; queue depths and ages are read from the
database when Prometheus scrapes, so every API process of a node reports the same shared truth and
nothing needs to be kept in step. Only aggregates leave: counts, ages and latencies, never an id,
an address or a CID.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from datacoop.chain.outbox import IN_FLIGHT
from datacoop.clock import Clock, utc_now
from datacoop.db import Database
from datacoop.db.models import ChainTx, ComputeJob, ScreeningJob, Submission

__all__ = ["CONTENT_TYPE_LATEST", "NodeMetrics"]

# Request latency buckets (seconds): from a cached read to a slow upload.
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_OUTBOX_OPEN = ("pending", *IN_FLIGHT)  # operator transactions not yet final


class NodeMetrics:
    """One node's Prometheus registry: the request histogram, plus a collector over its queues."""

    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Histogram(
            "datacoop_http_request_duration_seconds",
            "Time to answer an API request, by route template, method and status class.",
            ["method", "route", "status"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(QueueCollector(db, clock))

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, f"{status // 100}xx").observe(seconds)

    def render(self) -> bytes:
        """The registry in Prometheus' text format (content type :data:`CONTENT_TYPE_LATEST`)."""
        return generate_latest(self.registry)


class QueueCollector(Collector):
    """Queue depths and ages, read from the database at each scrape (a few indexed counts)."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def collect(self) -> Iterator[Metric]:
        now = self._clock()
        with self._db.transaction() as s:
            yield from self._screening(s, now)
            yield _by_label(s, Submission.state, "datacoop_submissions", "Submissions by state.", "state")
            yield from self._outbox(s, now)
            yield _by_label(
                s, ComputeJob.status, "datacoop_compute_jobs", "Compute-to-data jobs by status.", "status"
            )

    def _screening(self, s: Session, now: datetime) -> Iterator[Metric]:
        yield _by_label(
            s, ScreeningJob.status, "datacoop_screening_jobs", "Pre-screening jobs by status.", "status"
        )
        oldest = s.scalar(select(func.min(ScreeningJob.created_at)).where(ScreeningJob.status == "queued"))
        yield _age(
            "datacoop_screening_oldest_queued_age_seconds",
            "Age of the oldest pre-screening job still queued (0 when none).",
            now,
            oldest,
        )

    def _outbox(self, s: Session, now: datetime) -> Iterator[Metric]:
        rows = s.execute(
            select(ChainTx.status, func.count(), func.min(ChainTx.created_at))
            .where(ChainTx.status.in_(_OUTBOX_OPEN))
            .group_by(ChainTx.status)
        ).all()
        depth = GaugeMetricFamily(
            "datacoop_outbox_transactions",
            "Operator transactions not yet final, by status.",
            labels=["status"],
        )
        counts = {status: int(count) for status, count, _ in rows}
        for status in _OUTBOX_OPEN:
            depth.add_metric([status], counts.get(status, 0))
        yield depth
        oldest = min((first for *_, first in rows if first is not None), default=None)
        yield _age(
            "datacoop_outbox_oldest_open_age_seconds",
            "Age of the oldest operator transaction not yet final (0 when none).",
            now,
            oldest,
        )


def _by_label(
    s: Session, column: InstrumentedAttribute[str], name: str, documentation: str, label: str
) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=[label])
    for value, count in s.execute(select(column, func.count()).group_by(column)).all():
        family.add_metric([str(value)], int(count))
    return family


def _age(name: str, documentation: str, now: datetime, since: datetime | None) -> GaugeMetricFamily:
    seconds = 0.0 if since is None else max(0.0, (now - _aware(since, now)).total_seconds())
    return GaugeMetricFamily(name, documentation, value=seconds)


def _aware(moment: datetime, like: datetime) -> datetime:
    # SQLite hands back naive datetimes; the database stores UTC either way.
    return moment.replace(tzinfo=like.tzinfo) if moment.tzinfo is None else moment
