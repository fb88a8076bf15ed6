"""Running compute jobs: the leased queue, the sandboxed run, the release decision, the outcome's commit.

A job row is the queue's source of truth (the same pattern as pre-screening): a worker leases it
with a conditional UPDATE, runs it outside any transaction, and commits the outcome, the usage row
and the audit entry together. What leaves follows the version's release policy
(:mod:`datacoop.compute.release`): an approved algorithm's outputs after the size, type and
fingerprint checks; an open algorithm's one aggregate, re-encoded by the node.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import mimetypes
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session

from datacoop.audit.log import AuditLog
from datacoop.clock import Clock
from datacoop.compute.algorithm import Algorithm, parse_algorithm
from datacoop.compute.fingerprints import Fingerprints
from datacoop.compute.licences import ComputeLicences
from datacoop.compute.outputs import OutputLimits, check_outputs, scrub_log
from datacoop.compute.policies import ReleasePolicies
from datacoop.compute.release import RESULT, ReleasePolicy, open_log, release_aggregate
from datacoop.compute.sandbox import (
    Limits,
    SandboxResult,
    prepare_dirs,
    run_sandboxed,
    seal_read_only,
    unseal,
)
from datacoop.datasets.manifest import Manifest
from datacoop.db import Database
from datacoop.db.models import ComputeJob, ComputeLicence, ComputePolicy, ComputeUsage, Participant
from datacoop.errors import Unavailable
from datacoop.storage import BlobStore

__all__ = ["ComputeConfig", "ComputeRuns"]

log = logging.getLogger("datacoop.compute")
MAX_ATTEMPTS = 3
_OUTCOME = {"denied": "stopped", "limit": "stopped", "error": "failed"}
_UNREADABLE = "the outputs could not be taken back: a name, size or file type that is not allowed"


@dataclass(frozen=True)
class ComputeConfig:
    """Settings of compute-to-data, built from :class:`~datacoop.settings.Settings` in app.py."""

    allowed_requirements: list[str] = field(default_factory=lambda: ["numpy", "pillow", "scikit-learn"])
    limits: Limits = field(default_factory=Limits)
    outputs: OutputLimits = field(default_factory=OutputLimits)
    work_dir: Path | None = None  # default: the system's temporary folder
    log_chars: int = 20_000
    lease: timedelta = timedelta(minutes=10)


def _available(now: datetime) -> ColumnElement[bool]:
    return or_(
        ComputeJob.status == "queued", and_(ComputeJob.status == "running", ComputeJob.lease_until < now)
    )


def _item_name(index: int, media_type: str) -> str:
    ext = mimetypes.guess_extension(media_type) or ".bin"
    return f"{index:06d}{ext}"


class ComputeRuns:
    """The worker's half of :class:`~datacoop.compute.service.ComputeService`."""

    def __init__(
        self, db: Database, store: BlobStore, audit: AuditLog, *, manifest: Callable[[int], Manifest],
        licences: ComputeLicences, config: ComputeConfig, clock: Clock,
    ) -> None:  # fmt: skip
        self._db, self._store, self._audit, self._manifest, self._clock = db, store, audit, manifest, clock
        self.licences, self.config = licences, config
        self.policies = ReleasePolicies(audit)

    # --- the queue ----------------------------------------------------------------------

    def claim(self, worker: str) -> int | None:
        """Lease the oldest available job; its id, or None when there is none."""
        now = self._clock()
        for _ in range(5):  # another worker may win the race for a candidate: try the next
            with self._db.transaction() as s:
                candidate = s.scalar(
                    select(ComputeJob.id).where(_available(now)).order_by(ComputeJob.id).limit(1)
                )
            if candidate is None:
                return None
            with self._db.transaction() as s:
                won = s.execute(
                    update(ComputeJob)
                    .where(ComputeJob.id == candidate, _available(now))
                    .values(status="running", lease_until=now + self.config.lease, worker=worker,
                            attempts=ComputeJob.attempts + 1, updated_at=now)
                    .returning(ComputeJob.id)
                ).scalar()  # fmt: skip
            if won is not None:
                return int(won)
        return None

    def work_once(self, worker: str) -> bool:
        """Claim and run one job; False when the queue is empty (WorkerPool's callable)."""
        job_id = self.claim(worker)
        if job_id is None:
            return False
        self.process(job_id, worker)
        return True

    # --- one job ------------------------------------------------------------------------

    def process(self, job_id: int, worker: str) -> str | None:
        """Run one leased job in the sandbox, check its outputs, commit its outcome (idempotent)."""
        with self._db.transaction() as s:
            job = s.get(ComputeJob, job_id)
            if job is None or job.status == "done":
                return None
            s.expunge(job)
        if job.attempts > MAX_ATTEMPTS:  # it took a worker down that many times
            return self._finish(job, "failed", "the job could not complete after several attempts", None, [])
        root = Path(tempfile.mkdtemp(prefix=f"datacoop-job{job_id}-", dir=self.config.work_dir))
        try:
            return self._run(job, root)
        except Unavailable as exc:  # fail closed: the job does not run with weaker isolation
            return self._finish(job, "failed", exc.message, None, [])
        finally:
            unseal(root)
            shutil.rmtree(root, ignore_errors=True)

    def _run(self, job: ComputeJob, root: Path) -> str | None:
        with self._store.open(job.algorithm_cid) as f:
            source = f.read()
        with self._db.transaction() as s:
            policy = self.policies.get(s, job.version_id)
        digest = hashlib.sha256(source).hexdigest()
        if policy.mode == "approved" and digest not in policy.approved:  # approval withdrawn since submission
            reason = f"the publisher no longer approves algorithm sha256 {digest}; it was not run"
            return self._finish(job, "withheld", reason, None, [])
        dirs = prepare_dirs(root)
        algorithm: Algorithm = parse_algorithm(
            source, job.algorithm_name, entry=job.entry, requirements=list(job.requirements),
            allowed=self.config.allowed_requirements,
        )  # fmt: skip
        algorithm.write_to(dirs["algo"])
        inputs = self._materialise(job.version_id, dirs["data"])
        prints = Fingerprints.of_files(inputs)
        seal_read_only(dirs["data"])
        seal_read_only(dirs["algo"])
        result = run_sandboxed(
            root, algorithm.entry, self.config.limits, requirements=list(algorithm.requirements)
        )
        if policy.mode == "approved":
            text = scrub_log(result.log, root, prints, self.config.log_chars)
        else:  # an open job's log is withheld, and its run time shown in whole seconds (a timing channel)
            text, result.seconds = open_log(result.log), float(round(result.seconds))
        if result.status != "finished":
            return self._finish(job, _OUTCOME[result.status], result.reason, result, [], text)
        if result.output_problem is not None:  # an open job's reason may not repeat its file names
            problem = result.output_problem if policy.mode == "approved" else _UNREADABLE
            return self._finish(job, "withheld", problem, result, [], text)
        if policy.mode == "open":
            size = sum(p.stat().st_size for p in inputs)
            return self._release_aggregate(job, dirs["out"], result, policy, size, prints, text)
        verdict = check_outputs(dirs["out"], self.config.outputs, prints)
        if not verdict.released:
            return self._finish(job, "withheld", verdict.reason, result, [], text)
        outputs = []
        for out in verdict.files:
            blob = self._store.put([out.path.read_bytes()], max_bytes=max(out.size, 1))
            outputs.append({"name": out.name, "cid": blob.cid, "size": out.size})
        return self._finish(job, "released", None, result, outputs, text)

    def _release_aggregate(
        self, job: ComputeJob, out_dir: Path, result: SandboxResult, policy: ReleasePolicy, data_bytes: int,
        prints: Fingerprints, text: str,
    ) -> str | None:  # fmt: skip
        rng = np.random.default_rng(int.from_bytes(os.urandom(16), "big"))
        released = release_aggregate(out_dir, sorted(result.outputs), policy, data_bytes, prints, rng)
        if isinstance(released, str):
            return self._finish(job, "withheld", released, result, [], text)
        blob = self._store.put([released.data], max_bytes=len(released.data))
        outputs: list[dict[str, object]] = [{"name": RESULT, "cid": blob.cid, "size": len(released.data)}]
        spend = (released.epsilon, policy.epsilon_budget) if released.epsilon else None
        return self._finish(job, "released", None, result, outputs, text, spend=spend)

    def _materialise(self, version_id: int, data_dir: Path) -> list[Path]:
        """The version's items as files ``items/NNNNNN.ext`` and their labels in ``index.json``."""
        manifest = self._manifest(version_id)
        items_dir = data_dir / "items"
        items_dir.mkdir()
        paths, index = [], []
        for item in manifest.items:
            name = _item_name(item.index, item.media_type)
            with self._store.open(item.cid) as src, (items_dir / name).open("wb") as dst:
                shutil.copyfileobj(src, dst)
            paths.append(items_dir / name)
            index.append({"file": f"items/{name}", "media_type": item.media_type, "labels": item.labels,
                          "jurisdiction": item.jurisdiction})  # fmt: skip
        (data_dir / "index.json").write_text(json.dumps(index, indent=1))
        return paths

    def _finish(
        self, job: ComputeJob, outcome: str, reason: str | None, result: SandboxResult | None,
        outputs: list[dict[str, object]], text: str | None = None, *,
        spend: tuple[float, float] | None = None,
    ) -> str | None:  # fmt: skip
        now = self._clock()
        with self._db.transaction() as s:
            row = s.get(ComputeJob, job.id, with_for_update=True)
            if row is None or row.status == "done":  # another worker finished it first
                return None
            if spend is not None and (over := self._spend(s, row, *spend)) is not None:
                outcome, reason, outputs = "withheld", over, []
            row.status, row.outcome, row.reason, row.log, row.outputs = "done", outcome, reason, text, outputs
            row.isolation = result.isolation if result else {}
            row.seconds = round(result.seconds, 3) if result else None
            row.lease_until, row.finished_at, row.updated_at = None, now, now
            s.add(self._usage(s, row, result, now))
            self._audit.append(
                s, actor=f"worker:{row.worker or '-'}"[:200], action="compute.job.finished",
                subject=f"compute_job:{row.id}",
                details={"outcome": outcome, "reason": reason, "version_id": row.version_id,
                         "outputs": [o["cid"] for o in outputs], "isolation": row.isolation},
            )  # fmt: skip
        log.info("compute job %s: %s%s", job.id, outcome, f" ({reason})" if reason else "")
        return outcome

    @staticmethod
    def _usage(s: Session, row: ComputeJob, result: SandboxResult | None, now: datetime) -> ComputeUsage:
        """What the job costs under the licence it was submitted with: per job, or per CPU-second begun."""
        buyer = s.get(Participant, row.buyer_id)
        licence = s.get(ComputeLicence, row.licence_id) if row.licence_id is not None else None
        assert buyer is not None
        unit = licence.unit if licence is not None else "job"
        quantity = math.ceil(result.cpu_seconds) if unit == "cpu_second" and result else 1
        quantity = quantity if result is not None else 0  # the node could not run it: nothing is owed
        price = int(licence.price) if licence is not None else 0
        return ComputeUsage(
            licence_id=row.licence_id, buyer=buyer.address, version_id=row.version_id, unit=unit,
            subject=f"compute_job:{row.id}", quantity=quantity, amount=price * quantity, created_at=now,
        )  # fmt: skip

    def _spend(self, s: Session, row: ComputeJob, epsilon: float, budget: float) -> str | None:
        """Charge the job's ε to its buyer and dataset, or say why the budget does not allow it."""
        s.get(ComputePolicy, row.version_id, with_for_update=True)  # one spender at a time per version
        buyer = s.get(Participant, row.buyer_id)
        assert buyer is not None
        dataset_id = self.policies.dataset_of(s, row.version_id)
        spent = self.policies.spent(s, buyer.address, dataset_id)
        if spent + epsilon > budget + 1e-9:
            return f"the privacy budget for this dataset is spent (ε {spent:g} of {budget:g} used)"
        self.policies.spend(s, buyer.address, dataset_id, row.id, epsilon, self._clock())
        return None
