"""Submission states and the one table of moves between them."""

from __future__ import annotations

import enum

from datacoop.errors import InvalidTransition

__all__ = ["TRANSITIONS", "SubmissionState", "check_transition"]


class SubmissionState(enum.StrEnum):
    RECEIVED = "received"
    SCREENING = "screening"
    IN_REVIEW = "in_review"
    ACCEPTED = "accepted"
    REJECTED = "rejected"

    @property
    def is_final(self) -> bool:
        return not TRANSITIONS[self]


TRANSITIONS: dict[SubmissionState, frozenset[SubmissionState]] = {
    SubmissionState.RECEIVED: frozenset({SubmissionState.SCREENING}),
    # screening may accept outright where a task allows auto-acceptance
    SubmissionState.SCREENING: frozenset(
        {SubmissionState.IN_REVIEW, SubmissionState.REJECTED, SubmissionState.ACCEPTED}
    ),
    SubmissionState.IN_REVIEW: frozenset({SubmissionState.ACCEPTED, SubmissionState.REJECTED}),
    SubmissionState.ACCEPTED: frozenset(),
    # an appeal re-opens review once; the review service enforces "once"
    SubmissionState.REJECTED: frozenset({SubmissionState.IN_REVIEW}),
}


def check_transition(current: SubmissionState, new: SubmissionState) -> None:
    """Raise InvalidTransition unless ``current → new`` is an allowed move."""
    if new not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none (final)"
        raise InvalidTransition(
            f"a submission cannot go from {current} to {new}; allowed from {current}: {allowed}",
            field="state",
        )
