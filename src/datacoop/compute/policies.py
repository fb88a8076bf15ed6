"""Release policies per version (set by the publisher) and the ε each buyer spent per dataset.

Who may set a version's policy: the dataset's owner, or the publisher of a listing of that
version; a dataset of the operator's (no owner) is set from the operator's CLI (``who=None``).
Every change is written to the audit log.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from datacoop.audit.log import AuditLog
from datacoop.compute.release import ReleasePolicy
from datacoop.compute.schemas import PolicyBody, PolicyPublic
from datacoop.db.models import ComputePolicy, Dataset, DatasetVersion, Listing, PrivacySpend
from datacoop.errors import Forbidden, NotFound
from datacoop.identity.schemas import Caller

__all__ = ["ReleasePolicies"]


def _policy(row: ComputePolicy | None) -> ReleasePolicy:
    if row is None:
        return ReleasePolicy()
    rules: dict[str, Any] = dict(row.rules)
    rules["approved"] = tuple(rules.get("approved", ()))
    rules["metrics"] = tuple(rules.get("metrics", ()))
    rules["parameters"] = {k: tuple(v) for k, v in rules.get("parameters", {}).items()}
    rules["bounds"] = tuple(rules.get("bounds", (0.0, 1.0)))
    return ReleasePolicy(mode=row.mode, **rules)


class ReleasePolicies:
    """Reads and writes ``compute_policies`` and ``compute_privacy_spend`` inside the caller's transaction."""

    def __init__(self, audit: AuditLog) -> None:
        self._audit = audit

    def get(self, s: Session, version_id: int) -> ReleasePolicy:
        """The version's policy; a version nobody set is open, metrics only, no noise."""
        return _policy(s.get(ComputePolicy, version_id))

    def dataset_of(self, s: Session, version_id: int) -> int:
        version = s.get(DatasetVersion, version_id)
        if version is None:
            raise NotFound(f"there is no dataset version {version_id}", field="version_id")
        return version.dataset_id

    def _check_publisher(self, s: Session, who: Caller | None, version_id: int) -> None:
        dataset = s.get(Dataset, self.dataset_of(s, version_id))
        assert dataset is not None
        if who is None:  # the operator, from the node's own CLI
            return
        publishes = s.scalar(
            select(Listing.id)
            .where(Listing.version_id == version_id, Listing.publisher_id == who.id)
            .limit(1)
        )
        if dataset.owner_id != who.id and publishes is None:
            raise Forbidden(
                f"only the publisher of dataset version {version_id} may set its release policy",
                field="version_id",
            )

    def set(
        self, s: Session, who: Caller | None, version_id: int, body: PolicyBody, now: datetime
    ) -> PolicyPublic:
        """Replace the version's policy (the publisher's or the operator's call)."""
        self._check_publisher(s, who, version_id)
        row = s.get(ComputePolicy, version_id) or ComputePolicy(version_id=version_id)
        row.mode, row.rules = body.mode, body.model_dump(exclude={"mode"})
        row.set_by, row.updated_at = who.address if who else "operator", now
        s.add(row)
        s.flush()
        self._audit.append(
            s, actor=row.set_by, action="compute.policy.set", subject=f"dataset_version:{version_id}",
            details=body.model_dump(),
        )  # fmt: skip
        return PolicyPublic(version_id=version_id, **body.model_dump())

    def spent(self, s: Session, buyer: str, dataset_id: int) -> float:
        total = s.scalar(
            select(func.coalesce(func.sum(PrivacySpend.epsilon), 0.0)).where(
                PrivacySpend.buyer == buyer, PrivacySpend.dataset_id == dataset_id
            )
        )
        return float(total or 0.0)

    def spend(
        self, s: Session, buyer: str, dataset_id: int, job_id: int, epsilon: float, now: datetime
    ) -> None:
        s.add(
            PrivacySpend(buyer=buyer, dataset_id=dataset_id, job_id=job_id, epsilon=epsilon, created_at=now)
        )
