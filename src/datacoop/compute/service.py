"""Compute-to-data as a service: the publisher's release policy, the buyer's jobs and downloads.

Running the queued jobs (the lease, the sandbox, the release decision) is
:mod:`datacoop.compute.runs`, the base of :class:`ComputeService`. Released outputs are offered
through short-lived signed URLs bound to the buyer, served only in that buyer's session.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import BinaryIO
from urllib.parse import quote

from sqlalchemy.orm import Session

from datacoop.audit.log import AuditLog
from datacoop.clock import Clock, utc_now
from datacoop.compute.algorithm import parse_algorithm
from datacoop.compute.licences import ComputeLicences, DatabaseLicences
from datacoop.compute.runs import ComputeConfig, ComputeRuns
from datacoop.compute.schemas import JobOutput, JobPublic, OutputLink, PolicyBody, PolicyPublic
from datacoop.compute.signing import OutputSigner
from datacoop.compute.syscalls import require_isolation
from datacoop.datasets.manifest import Manifest
from datacoop.db import Database
from datacoop.db.models import ComputeJob, Participant
from datacoop.errors import Forbidden, NotFound
from datacoop.identity.schemas import Caller
from datacoop.storage import BlobStore

__all__ = ["ComputeConfig", "ComputeService", "job_public"]


class ComputeService(ComputeRuns):
    """Compute-to-data for the publisher (release policy) and the buyer (submit, follow, download);
    the queue and the runs are :class:`~datacoop.compute.runs.ComputeRuns`."""

    def __init__(
        self, db: Database, store: BlobStore, audit: AuditLog, signer: OutputSigner, *,
        manifest: Callable[[int], Manifest], licences: ComputeLicences | None = None,
        config: ComputeConfig | None = None, clock: Clock = utc_now,
    ) -> None:  # fmt: skip
        super().__init__(db, store, audit, manifest=manifest, licences=licences or DatabaseLicences(),
                         config=config or ComputeConfig(), clock=clock)  # fmt: skip
        self._signer = signer

    # --- the publisher's side -----------------------------------------------------------

    def set_policy(self, who: Caller | None, version_id: int, body: PolicyBody) -> PolicyPublic:
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

    def _admit(self, s: Session, who: Caller, version_id: int, source: bytes) -> None:
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
        self, who: Caller, version_id: int, source: bytes, filename: str, *, entry: str | None = None,
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
        check = self.licences.check(self._db, who.address, version_id, ("job", "cpu_second"), now)
        with self._db.transaction() as s:
            grant = self.licences.licence_for(s, check)
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
            return job_public(job)

    def _own(self, job_id: int, who: Caller) -> ComputeJob:
        with self._db.transaction() as s:
            job = s.get(ComputeJob, job_id)
            if job is None or job.buyer_id != who.id:  # another buyer's job is not even said to exist
                raise NotFound(f"there is no compute job {job_id} of yours", field="job_id")
            s.expunge(job)
            return job

    def get(self, job_id: int, who: Caller) -> JobPublic:
        return job_public(self._own(job_id, who))

    def output_link(self, job_id: int, who: Caller, name: str) -> OutputLink:
        """A signed download URL (path and query) for one released output, bound to the buyer."""
        job = self._own(job_id, who)
        if name not in {o["name"] for o in job.outputs}:
            raise NotFound(f"job {job_id} released no output {name!r}", field="name")
        query = self._signer.query(job_id, name, who.address, self._clock())
        url = f"/v1/compute/outputs/{job_id}/{quote(name)}?{query}"
        return OutputLink(url=url, ttl_seconds=int(self._signer.ttl.total_seconds()))

    def open_output(
        self, caller: Caller, job_id: int, name: str, buyer: str, expires: int, sig: str
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


def job_public(row: ComputeJob) -> JobPublic:
    """What the buyer sees of one job row (here, not in ``schemas``: the SDK imports that one)."""
    return JobPublic(
        id=row.id, version_id=row.version_id, algorithm_name=row.algorithm_name, entry=row.entry,
        requirements=list(row.requirements), status=row.status, outcome=row.outcome, reason=row.reason,
        log=row.log, outputs=[JobOutput(**o) for o in row.outputs], isolation=dict(row.isolation),
        seconds=row.seconds, created_at=row.created_at, finished_at=row.finished_at,
    )  # fmt: skip
