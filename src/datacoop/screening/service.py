"""Pre-screening as a service: the job queue in the database, leases, and one final result per item.

A job row is written with its submission. A worker claims it with a conditional
UPDATE (portable: SQLite and PostgreSQL) that also takes over jobs whose lease
ran out — a worker killed mid-job loses nothing. A lease whose holder is provably
gone (a process of this host that no longer runs, see ``pipeline.holders``) is
released at once, by an idle worker every few seconds and by the broker's sweeper. The stages run outside any
transaction; their results, the one ``prescreens`` row (its primary key makes
a second final result impossible) and the submission's state change commit
together, and only then is the job done (a broker message is acked after that).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError as SAIntegrityError
from sqlalchemy.orm import Session

from datacoop.clock import Clock, utc_now
from datacoop.db import Database
from datacoop.db.models import ItemFeatures, Prescreen, ScreeningJob, StageResultRow, Submission
from datacoop.holders import is_gone
from datacoop.screening.base import ItemContext, Stage, StageDeps, StageResult, TaskView
from datacoop.screening.registry import stages_for
from datacoop.screening.verdicts import Outcome, Verdict, decide
from datacoop.storage import BlobStore
from datacoop.tasks.rules import Modality
from datacoop.tasks.states import SubmissionState
from datacoop.tasks.transitions import move

__all__ = ["ScreeningService", "enqueue"]

log = logging.getLogger("datacoop.screening")
MAX_ATTEMPTS = 3
RELEASE_EVERY_S = 2.0  # how often an idle worker looks for leases of workers that are gone
MAX_FEATURE_DIMS = 2048  # an item's stored features: MiniLM gives 384, CLIP 512-1024, classic 128


def enqueue(s: Session, submission_id: int, now: datetime) -> None:
    """Queue a submission for pre-screening, in the caller's transaction."""
    s.add(
        ScreeningJob(submission_id=submission_id, status="queued", attempts=0, created_at=now, updated_at=now)
    )


def _available(now: datetime) -> ColumnElement[bool]:
    """Jobs a worker may lease: queued, or running under a lease that ran out."""
    return or_(
        ScreeningJob.status == "queued",
        and_(ScreeningJob.status == "running", ScreeningJob.lease_until < now),
    )


def _instantiate(cls: type[Stage], deps: StageDeps) -> Stage:
    create = getattr(cls, "create", None)
    return create(deps) if create is not None else cls()


class ScreeningService:
    def __init__(
        self,
        db: Database,
        store: BlobStore,
        *,
        deps: StageDeps | None = None,
        lease: timedelta = timedelta(minutes=5),
        stage_classes: Callable[[Modality], list[type[Stage]]] = stages_for,
        clock: Clock = utc_now,
        holder_gone: Callable[[str], bool] = is_gone,
    ) -> None:
        self._db, self._store, self._deps = db, store, deps or StageDeps()
        self._lease, self._stage_classes, self._clock = lease, stage_classes, clock
        self._holder_gone, self._released_at = holder_gone, -RELEASE_EVERY_S

    # --- the queue --------------------------------------------------------------------------

    def claim(self, worker: str) -> int | None:
        """Lease the oldest available job; its submission id, or None when there is none."""
        now = self._clock()
        available = _available(now)
        for _ in range(5):  # another worker may win the race for a candidate: try the next
            with self._db.transaction() as s:
                candidate = s.scalar(
                    select(ScreeningJob.id).where(available).order_by(ScreeningJob.id).limit(1)
                )
            if candidate is None:
                return None
            with self._db.transaction() as s:
                won = s.execute(
                    update(ScreeningJob)
                    .where(ScreeningJob.id == candidate, available)
                    .values(
                        status="running",
                        lease_until=now + self._lease,
                        worker=worker,
                        attempts=ScreeningJob.attempts + 1,
                        updated_at=now,
                    )
                    .returning(ScreeningJob.submission_id)
                ).scalar()
            if won is not None:
                return int(won)
        return None

    def work_on(self, submission_id: int, worker: str) -> timedelta | None:
        """Lease and process the job of one submission (a broker message names it).

        Returns None when the job is finished, by this call or before; when another
        worker holds a live lease, how long until that lease runs out.
        """
        now = self._clock()
        with self._db.transaction() as s:
            won = s.execute(
                update(ScreeningJob)
                .where(ScreeningJob.submission_id == submission_id, _available(now))
                .values(status="running", lease_until=now + self._lease, worker=worker,
                        attempts=ScreeningJob.attempts + 1, updated_at=now)
                .returning(ScreeningJob.id)
            ).scalar()  # fmt: skip
            if won is None:
                job = s.scalar(select(ScreeningJob).where(ScreeningJob.submission_id == submission_id))
                if job is None or job.status == "done":
                    return None
                holder, wait = job.worker, max((job.lease_until or now + self._lease) - now, timedelta(0))
        if won is None:  # a live lease: unless its holder is provably gone, look again when it runs out
            return self.work_on(submission_id, worker) if self._release(holder) else wait
        self.process(submission_id, worker)
        return None

    def release_gone(self) -> int:
        """Put back in the queue every running job whose worker is provably gone; how many."""
        now = self._clock()
        with self._db.transaction() as s:
            holders = s.scalars(
                select(ScreeningJob.worker)
                .where(ScreeningJob.status == "running", ScreeningJob.lease_until >= now)
                .distinct()
            ).all()
        return sum(self._release(holder) for holder in holders)

    def _release(self, holder: str | None) -> int:
        """Re-queue the running jobs of ``holder`` if it is provably gone (their attempts still count)."""
        if holder is None or not self._holder_gone(holder):
            return 0
        with self._db.transaction() as s:
            released = cast(
                CursorResult[Any],
                s.execute(
                    update(ScreeningJob)
                    .where(ScreeningJob.status == "running", ScreeningJob.worker == holder)
                    .values(status="queued", lease_until=None)
                ),
            ).rowcount
        if released:
            log.warning("released %d pre-screening job(s) of %s, which is gone", released, holder)
        return int(released)

    def overdue(self, *, after: timedelta, limit: int = 1000) -> list[int]:
        """Jobs a broker may never have carried: queued, or leased by a worker that died.

        Marks each as published now and returns their submission ids. A job is due
        ``after`` its last publish, then at gaps that double with its age (at most ten
        ``after``), so a long backlog is not published over and over.
        """
        self.release_gone()
        now = self._clock()
        stale = or_(ScreeningJob.status == "queued", ScreeningJob.lease_until < now)
        with self._db.transaction() as s:
            jobs = s.scalars(
                select(ScreeningJob)
                .where(ScreeningJob.status != "done", stale, ScreeningJob.updated_at < now - after)
                .order_by(ScreeningJob.updated_at)
                .limit(limit)
            ).all()
            due = [j for j in jobs if now - j.updated_at >= min(j.updated_at - j.created_at, 10 * after)]
            for job in due:
                job.updated_at = now
            return [j.submission_id for j in due]

    def work_once(self, worker: str) -> bool:
        """Claim and process one job; False when the queue is empty.

        An idle worker also releases, every few seconds, the leases of workers that are gone.
        """
        submission_id = self.claim(worker)
        if submission_id is None and time.monotonic() - self._released_at >= RELEASE_EVERY_S:
            self._released_at = time.monotonic()
            submission_id = self.claim(worker) if self.release_gone() else None
        if submission_id is None:
            return False
        self.process(submission_id, worker)
        return True

    def pending(self) -> int:
        with self._db.transaction() as s:
            count = s.scalar(
                select(func.count()).select_from(ScreeningJob).where(ScreeningJob.status != "done")
            )
            return int(count or 0)

    # --- one job ----------------------------------------------------------------------------

    def process(self, submission_id: int, worker: str) -> str | None:
        """Run the stages for one submission and commit its one final result (idempotent)."""
        loaded = self._start(submission_id)
        if loaded is None:
            return None
        item, task, attempts, auto_accept = loaded
        if attempts > MAX_ATTEMPTS:  # it took a worker down that many times: a person decides
            results = [StageResult("pipeline", Verdict.UNSURE, ("the automatic checks could not complete",))]
        else:
            results = self.run_stages(item, task)
        outcome = decide(((r.verdict, r.reasons) for r in results), auto_accept=auto_accept)
        return self._finish(submission_id, worker, item, results, outcome)

    def _start(self, submission_id: int) -> tuple[ItemContext, TaskView, int, bool] | None:
        now = self._clock()
        with self._db.transaction() as s:
            if s.get(Prescreen, submission_id) is not None:
                self._mark_done(s, submission_id, now)
                return None
            sub = s.get(Submission, submission_id)
            job = s.scalar(select(ScreeningJob).where(ScreeningJob.submission_id == submission_id))
            if sub is None or job is None:
                return None
            if sub.state == SubmissionState.RECEIVED.value:
                move(s, sub, SubmissionState.SCREENING, "pre-screening started", now)
            task = TaskView(sub.task.id, Modality(sub.task.modality), sub.task.title, sub.task.description,
                            sub.task.rules)  # fmt: skip
            item = self._item(sub)
            return item, task, job.attempts, bool(sub.task.rules.get("auto_accept"))

    def _item(self, sub: Submission) -> ItemContext:
        store, cid = self._store, sub.cid

        def read() -> bytes:
            with store.open(cid) as f:
                return f.read()

        def put_blob(data: bytes) -> str:
            return store.put([data], max_bytes=max(len(data), 1)).cid

        size = store.stat(cid).size
        return ItemContext(sub.id, cid, size, sub.contributor.address, read, put_blob)

    def run_stages(self, item: ItemContext, task: TaskView) -> list[StageResult]:
        """Every applicable stage, cheapest first, stopping at the first hard reject."""
        results: list[StageResult] = []
        for cls in self._stage_classes(task.modality):
            result = self._run_one(cls, item, task)
            results.append(result)
            if result.verdict is Verdict.FAIL:
                break
        return results

    def _run_one(self, cls: type[Stage], item: ItemContext, task: TaskView) -> StageResult:
        try:
            return _instantiate(cls, self._deps).run(item, task)
        except Exception as exc:  # a broken stage sends the item to a person, never takes the worker down
            log.exception("stage %s failed on submission %s", cls.name, item.submission_id)
            reason = f"the {cls.name} check could not run ({type(exc).__name__}); a validator will look"
            return StageResult(cls.name, Verdict.UNSURE, (reason,))

    def _finish(
        self, submission_id: int, worker: str, item: ItemContext, results: list[StageResult], outcome: Outcome
    ) -> str | None:
        now = self._clock()
        try:
            with self._db.transaction() as s:
                if s.get(Prescreen, submission_id) is not None:  # another worker finished it first
                    self._mark_done(s, submission_id, now)
                    return None
                s.add_all(_result_rows(submission_id, results, now))
                s.add(_prescreen_row(submission_id, worker, item, results, outcome, now))
                features = _features_row(submission_id, item, now)
                if features is not None:
                    s.add(features)
                sub = s.get(Submission, submission_id)
                assert sub is not None
                move(s, sub, outcome.state, "; ".join(outcome.reasons), now)
                self._mark_done(s, submission_id, now)
        except SAIntegrityError:
            return None  # a concurrent finisher won the prescreens primary key: exactly one result stands
        return outcome.state.value

    @staticmethod
    def _mark_done(s: Session, submission_id: int, now: datetime) -> None:
        s.execute(
            update(ScreeningJob)
            .where(ScreeningJob.submission_id == submission_id)
            .values(status="done", lease_until=None, updated_at=now)
        )

    def scrubbed_copies(self, submission_ids: Iterable[int]) -> dict[str, int]:
        """The scrubbed copy's CID → submission id, for those of ``submission_ids`` screened with one."""
        with self._db.transaction() as s:
            rows = s.execute(
                select(Prescreen.scrubbed_cid, Prescreen.submission_id).where(
                    Prescreen.submission_id.in_(list(submission_ids)), Prescreen.scrubbed_cid.is_not(None)
                )
            ).all()
            return {str(cid): int(sid) for cid, sid in rows}

    def report(self, submission_id: int) -> dict[str, object]:
        """The stage results and outcome, for the contributor (GET /v1/submissions/{id})."""
        with self._db.transaction() as s:
            rows = s.scalars(
                select(StageResultRow)
                .where(StageResultRow.submission_id == submission_id)
                .order_by(StageResultRow.position)
            ).all()
            final = s.get(Prescreen, submission_id)
            return {
                "outcome": final.outcome if final else None,
                "reasons": final.reasons if final else [],
                "stages": [
                    {
                        "stage": r.stage,
                        "verdict": r.verdict,
                        "score": r.score,
                        "reasons": r.reasons,
                        "details": r.details,
                    }
                    for r in rows
                ],
            }


def _result_rows(submission_id: int, results: list[StageResult], now: datetime) -> list[StageResultRow]:
    return [
        StageResultRow(
            submission_id=submission_id,
            stage=r.stage,
            position=position,
            verdict=r.verdict.value,
            score=r.score,
            reasons=list(r.reasons),
            details=dict(r.details),
            artifacts=dict(r.artifacts),
            created_at=now,
        )
        for position, r in enumerate(results)
    ]


def _features_row(submission_id: int, item: ItemContext, now: datetime) -> ItemFeatures | None:
    """The item's feature vector a stage left (relevance: its embedding), as float32 bytes."""
    kept = item.scratch.get("features")
    if not isinstance(kept, tuple) or len(kept) != 2:
        return None
    import numpy as np  # only a node that embeds has numpy on this path

    model, vector = kept
    row = np.asarray(vector, dtype="<f4").ravel()[:MAX_FEATURE_DIMS]
    return ItemFeatures(
        submission_id=submission_id,
        model=str(model)[:40],
        dims=len(row),
        vector=row.tobytes(),
        created_at=now,
    )


def _prescreen_row(
    submission_id: int,
    worker: str,
    item: ItemContext,
    results: list[StageResult],
    outcome: Outcome,
    now: datetime,
) -> Prescreen:
    return Prescreen(
        submission_id=submission_id,
        outcome=outcome.state.value,
        reasons=list(outcome.reasons),
        phash=_signed64(item.scratch.get("phash")),
        # the copy anyone but the contributor sees: faces blurred or text redacted where the task's
        # policy made such a copy, else the metadata-scrubbed one (none: the original is safe to show)
        scrubbed_cid=_artifact(results, "blurred_cid")
        or _artifact(results, "redacted_cid")
        or _artifact(results, "scrubbed_cid"),
        worker=worker,
        completed_at=now,
    )


def _signed64(value: int | None) -> int | None:
    if value is None:
        return None
    v = int(value)
    return v - (1 << 64) if v >= 1 << 63 else v  # BIGINT is signed on both databases


def _artifact(results: list[StageResult], key: str) -> str | None:
    for r in results:
        if key in r.artifacts:
            return r.artifacts[key]
    return None
