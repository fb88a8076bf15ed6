"""Pre-screening verdicts and the policy that turns stage results into a submission's next state."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from datacoop.tasks.states import SubmissionState

__all__ = ["Outcome", "Verdict", "decide"]


class Verdict(enum.StrEnum):
    PASS = "pass"
    FAIL = "fail"  # a hard reject: the pipeline stops here
    UNSURE = "unsure"  # a validator should look
    SKIPPED = "skipped"  # not applicable or not configured (e.g. no model): never a made-up score


@dataclass(frozen=True)
class Outcome:
    state: SubmissionState
    reasons: tuple[str, ...]


def decide(results: Iterable[tuple[Verdict, Iterable[str]]], *, auto_accept: bool) -> Outcome:
    """Reject on any fail (with its reasons); accept outright only where the task allows and all passed.

    Everything else goes to review, carrying the reasons of the stages that were unsure.
    """
    collected = [(v, tuple(r)) for v, r in results]
    failed = [reason for v, reasons in collected if v is Verdict.FAIL for reason in reasons]
    if failed or any(v is Verdict.FAIL for v, _ in collected):
        return Outcome(SubmissionState.REJECTED, tuple(failed) or ("rejected by pre-screening",))
    unsure = tuple(reason for v, reasons in collected if v is Verdict.UNSURE for reason in reasons)
    if auto_accept and not unsure and all(v in (Verdict.PASS, Verdict.SKIPPED) for v, _ in collected):
        return Outcome(SubmissionState.ACCEPTED, ("passed every automatic check",))
    return Outcome(SubmissionState.IN_REVIEW, unsure or ("passed the automatic checks; waiting for review",))
