"""What anyone but an item's contributor may see of it: the shared copy, and a report without its metadata.

Pre-screening keeps the contributor's original upload and writes a shared copy beside it
(``Prescreen.scrubbed_cid``: metadata stripped, faces blurred or text redacted where the task's
policy says so). The requester's sample gallery, a validator's review content and a dataset's
items are always that copy; the original goes to nobody but its contributor. Only where
pre-screening made no copy (a modality that carries no embedded metadata) is the original the
shared copy.

The scrub stage's report names what it removed (the GPS fix, the camera make and model, the
capture time): that is the contributor's to read. Others see that the stage ran and how, not
what it found.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from datacoop.db.models import Prescreen, Submission

__all__ = ["PRIVATE_STAGES", "SCRUBBED_NOTE", "shared_cid", "shared_report"]

PRIVATE_STAGES = frozenset({"scrub"})
"""Stages whose findings describe what was removed from the shared copy."""

SCRUBBED_NOTE = "embedded metadata (if any) was removed from the copy shared beyond the contributor"
_KEPT_DETAILS = ("method",)


def shared_cid(s: Session, submission_id: int) -> str:
    """The CID of the copy of a submission that others receive (never the original where a copy exists)."""
    original, copy = s.execute(
        select(Submission.cid, Prescreen.scrubbed_cid)
        .outerjoin(Prescreen, Prescreen.submission_id == Submission.id)
        .where(Submission.id == submission_id)
    ).one()
    return str(copy or original)


def shared_report(report: dict[str, Any]) -> dict[str, Any]:
    """A pre-screen report as others may read it: private stages say only that they ran, and how."""
    stages = [_shared_stage(stage) for stage in report.get("stages", [])]
    return {**report, "stages": stages}


def _shared_stage(stage: dict[str, Any]) -> dict[str, Any]:
    if stage.get("stage") not in PRIVATE_STAGES:
        return stage
    details = stage.get("details") or {}
    kept = {key: details[key] for key in _KEPT_DETAILS if key in details}
    reasons = [SCRUBBED_NOTE] if stage.get("verdict") == "pass" else []
    return {**stage, "reasons": reasons, "details": kept}
