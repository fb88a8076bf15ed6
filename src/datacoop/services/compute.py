"""Compute-to-data as a service: submit, the leased job queue, the sandboxed run, release, download.

A job row is the queue's source of truth (the same pattern as pre-screening): a worker leases it
with a conditional UPDATE, runs it outside any transaction, and commits the outcome, the usage row
and the audit entry together. Only outputs that pass :func:`~datacoop.compute.outputs.check_outputs`
are stored and offered, through short-lived signed URLs bound to the buyer.
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
from typing import BinaryIO
from urllib.parse import quote

import numpy as np
from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session

from datacoop.compute.algorithm import Algorithm, parse_algorithm
from datacoop.compute.fingerprints import Fingerprints
from datacoop.compute.licences import ComputeLicences, DatabaseLicences
from datacoop.compute.outputs import OutputLimits, check_outputs, scrub_log
from datacoop.compute.policies import ReleasePolicies
from datacoop.compute.public import JobPublic, OutputLink, PolicyBody, PolicyPublic
from datacoop.compute.release import RESULT, ReleasePolicy, open_log, release_aggregate
from datacoop.compute.sandbox import (
    Limits,
    SandboxResult,
    prepare_dirs,
    run_sandboxed,
    seal_read_only,
    unseal,
)
from datacoop.compute.signing import OutputSigner
from datacoop.compute.syscalls import require_isolation
from datacoop.datasets.manifest import Manifest
from datacoop.db import Database
from datacoop.db.models import ComputeJob, ComputeLicence, ComputePolicy, ComputeUsage, Participant
from datacoop.errors import Forbidden, NotFound, Unavailable
from datacoop.services.audit import AuditLog
from datacoop.services.clock import Clock, utc_now
from datacoop.storage import BlobStore

__all__ = ["ComputeConfig", "ComputeService"]

log = logging.getLogger("datacoop.compute")
MAX_ATTEMPTS = 3
_OUTCOME = {"denied": "stopped", "limit": "stopped", "error": "failed"}


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


class ComputeService:
    def __init__(
        self, db: Database, store: BlobStore, audit: AuditLog, signer: OutputSigner, *,
        manifest: Callable[[int], Manifest], licences: ComputeLicences | None = None,
        config: ComputeConfig | None = None, clock: Clock = utc_now,
    ) -> None:  # fmt: skip
        self._db, self._store, self._audit, self._signer = db, store, audit, signer
        self._manifest, self._clock = manifest, clock
        self.licences: ComputeLicences = licences or DatabaseLicences()
        self.config = config or ComputeConfig()
        self.policies = ReleasePolicies(audit)

    # --- the publisher's side -----------------------------------------------------------

    def set_policy(self, who: Participant | None, version_id: int, body: PolicyBody) -> PolicyPublic:
        """Set how outputs of jobs on ``version_id`` may leave (its publisher; the operator: ``who=None``)."""
        with self._db.transaction() as s:
            return self.policies.set(s, who, version_id, body, self._clock())

    def policy(self, version_id: int) -> PolicyPublic:
        with self._db.transaction() as s:
            self.policies.dataset_of(s, version_id)
            rules = self.policies.get(s, version_id)
        body = {k: list(v) if isinstance(v, tuple) else v for k, v in vars(rules).items()}
        body["parameters"] = {k: list(v) for k, v in rules.parameters.items()}
        return PolicyPublic(version_id=version_id, **body)

    def _admit(self, s: Session, who: Participant, version_id: int, source: bytes) -> None:
        """The release policy at submission: an unapproved hash, or a spent privacy budget, is refused."""
        policy = self.policies.get(s, version_id)
        digest = hashlib.sha256(source).hexdigest()
        if policy.mode == "approved" and digest not in policy.approved:
            raise Forbidden(
                f"algorithm sha256 {digest} is not approved by the publisher of dataset version {version_id}",
                field="source",
            )
        if policy.mode == "open" and policy.mechanism != "none":
            spent = self.policies.spent(s, who.address, self.policies.dataset_of(s, version_id))
            if spent + policy.epsilon > policy.epsilon_budget + 1e-9:
                used = f"ε {spent:g} of {policy.epsilon_budget:g} used; a job takes {policy.epsilon:g}"
                raise Forbidden(
                    f"your privacy budget for this dataset is spent ({used})",
                    field="version_id",
                    limit=policy.epsilon_budget,
                )

    # --- the buyer's side ---------------------------------------------------------------

    def submit(
        self, who: Participant, version_id: int, source: bytes, filename: str, *, entry: str | None = None,
        requirements: list[str] | None = None,
    ) -> JobPublic:  # fmt: skip
        """Queue an algorithm against a version the buyer holds a compute licence for.

        Raises:
            InvalidInput, TooLarge: the algorithm (see :func:`parse_algorithm`).
            Forbidden: no current compute licence for this version.
            Unavailable: this node cannot isolate a job (the missing piece is named).
        """
        require_isolation()
        algorithm = parse_algorithm(
            source, filename, entry=entry, requirements=requirements or [],
            allowed=self.config.allowed_requirements,
        )  # fmt: skip
        now = self._clock()
        with self._db.transaction() as s:
            grant = self.licences.licence_for(s, who.address, version_id, "job", now)
            grant = grant or self.licences.licence_for(s, who.address, version_id, "cpu_second", now)
            if grant is None:
                raise Forbidden(
                    f"you hold no compute licence for dataset version {version_id}", field="version_id"
                )
            self._admit(s, who, version_id, source)
            cid = self._store.put([source], max_bytes=max(len(source), 1)).cid
            job = ComputeJob(
                buyer_id=who.id,
                version_id=version_id,
                licence_id=grant.id,
                algorithm_cid=cid,
                algorithm_name=filename[-200:],
                entry=algorithm.entry,
                requirements=list(algorithm.requirements),
                status="queued",
                outputs=[],
                isolation={},
                attempts=0,
                created_at=now,
                updated_at=now,
            )
            s.add(job)
            s.flush()
            details = {"version_id": version_id, "algorithm_cid": cid, "entry": algorithm.entry}
            subject = f"compute_job:{job.id}"
            self._audit.append(
                s, actor=who.address, action="compute.job.submitted", subject=subject, details=details
            )
            return JobPublic.of(job)

    def _own(self, job_id: int, who: Participant) -> ComputeJob:
        with self._db.transaction() as s:
            job = s.get(ComputeJob, job_id)
            if job is None or job.buyer_id != who.id:  # another buyer's job is not even said to exist
                raise NotFound(f"there is no compute job {job_id} of yours", field="job_id")
            s.expunge(job)
            return job

    def get(self, job_id: int, who: Participant) -> JobPublic:
        return JobPublic.of(self._own(job_id, who))

    def output_link(self, job_id: int, who: Participant, name: str) -> OutputLink:
        """A signed download URL (path and query) for one released output, bound to the buyer."""
        job = self._own(job_id, who)
        if name not in {o["name"] for o in job.outputs}:
            raise NotFound(f"job {job_id} released no output {name!r}", field="name")
        query = self._signer.query(job_id, name, who.address, self._clock())
        url = f"/v1/compute/outputs/{job_id}/{quote(name)}?{query}"
        return OutputLink(url=url, ttl_seconds=int(self._signer.ttl.total_seconds()))

    def open_output(
        self, caller: Participant, job_id: int, name: str, buyer: str, expires: int, sig: str
    ) -> tuple[BinaryIO, int]:
        """The bytes behind a signed URL, for its buyer's own session (signature, expiry, caller, release)."""
        self._signer.verify(job_id, name, buyer, expires, sig, self._clock())
        if caller.address.lower() != buyer.lower():
            raise Forbidden("this download link is another account's; sign in as its buyer", field="buyer")
        with self._db.transaction() as s:
            job = s.get(ComputeJob, job_id)
            owner = s.get(Participant, job.buyer_id) if job is not None else None
            if job is None or owner is None or owner.address.lower() != buyer.lower():
                raise NotFound(f"there is no compute job {job_id} for this link", field="job_id")
            found = next((o for o in job.outputs if o["name"] == name), None)
        if found is None:
            raise NotFound(f"job {job_id} released no output {name!r}", field="name")
        return self._store.open(found["cid"]), int(found["size"])

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
        dirs = prepare_dirs(root)
        with self._store.open(job.algorithm_cid) as f:
            source = f.read()
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
        with self._db.transaction() as s:
            policy = self.policies.get(s, job.version_id)
        if policy.mode == "approved":
            text = scrub_log(result.log, root, prints, self.config.log_chars)
        else:
            text = open_log(result.log)
        if result.status != "finished":
            return self._finish(job, _OUTCOME[result.status], result.reason, result, [], text)
        if result.output_problem is not None:
            return self._finish(job, "withheld", result.output_problem, result, [], text)
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
