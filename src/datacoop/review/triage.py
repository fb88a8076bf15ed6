"""The task's own relevance model in review: it orders the queue and, where the requester allows, decides.

Runs inside the caller's transaction, before validators are drawn. Every item in review with stored
features (see :class:`~datacoop.db.models.ItemFeatures`) gets its task model's calibrated
p(acceptable), which orders a validator's open items (likely off-topic first). An item no validator
has voted on yet is decided without votes when the task's ``auto_decide_precision`` is set and the
model holds it (:meth:`TaskModel.decide`); the decision is recorded with its reason like any other
(``decided_by = "task_model"``) and a rejection can be appealed like any other. Gold items are never
submissions, so never decided here. The model learns from the task's final decisions other than its
own, replayed in the order they were made, each scored before it is learned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from sqlalchemy import Row, Select, func, select
from sqlalchemy.orm import Session

from datacoop.db.models import Appeal, ItemFeatures, ReviewOutcome, Submission
from datacoop.review.draws import FILL_BATCH, review_rules
from datacoop.review.outcomes import finalize
from datacoop.review.rules import ReviewAnswer
from datacoop.review.task_model import End, TaskModel
from datacoop.tasks.states import SubmissionState

__all__ = ["BY_MODEL", "TaskModels", "triage"]

BY_MODEL = "task_model"  # ReviewOutcome.decided_by of the model's decisions
_REFITS = 20  # at most this many refits while a model is rebuilt from its task's decisions
MAX_LABELS = 5_000  # a rebuild learns from the task's most recent decisions only: bounded per request
REBUILD_EVERY = 0.02  # ... and comes once the decisions grew by 2 % (at least one) since the last


@dataclass
class TaskModels:
    """Each task's model, rebuilt when its task has new decisions to learn (kept per process)."""

    _cache: dict[tuple[int, str], tuple[int, TaskModel]] = field(default_factory=dict)

    def model_for(self, s: Session, task_id: int, model: str, min_labels: int) -> TaskModel:
        """The task's model over this feature model's vectors; rebuilt only when its decisions changed."""
        count = int(
            s.scalar(select(func.count()).select_from(_labelled_query(task_id, model).subquery())) or 0
        )
        cached = self._cache.get((task_id, model))
        if cached is not None and cached[1].min_labelled == min_labels and _fresh(cached[0], count):
            return cached[1]
        recent = _labelled_query(task_id, model).limit(MAX_LABELS)
        labelled = [(v, a) for v, a in reversed(s.execute(recent).all()) if a is not None]  # oldest first
        built = TaskModel(min_labelled=min_labels)
        chunk = max(1, len(labelled) // _REFITS)
        for start in range(0, len(labelled), chunk):  # prequential: each chunk scored before it is learned
            for vector, answer in labelled[start : start + chunk]:
                built.learn(_vector(vector), ReviewAnswer(answer).klass, refit=False)
            built.fit()
        self._cache[(task_id, model)] = (count, built)
        return built


def _fresh(built_at: int, count: int) -> bool:
    """Whether a model built at ``built_at`` decisions still stands at ``count``: on a large task a
    rebuild per new decision would read thousands of vectors on every validator's request."""
    return count == built_at or (built_at < count < built_at + max(1.0, built_at * REBUILD_EVERY))


def triage(s: Session, now: datetime, models: TaskModels) -> int:
    """Score the oldest items in review and decide those the model may; returns how many it decided."""
    decided = 0
    built: dict[tuple[int, str], TaskModel] = {}  # one model per task and feature model in this call
    for sub, features in _in_review(s):
        rules = review_rules(sub)
        key = (sub.task_id, features.model)
        if key not in built:
            built[key] = models.model_for(s, sub.task_id, features.model, rules.auto_decide_min_labels)
        model = built[key]
        vector = _vector(features.vector)
        features.p_accept = model.probability(vector)
        outcome = s.get(ReviewOutcome, sub.id)
        if outcome is not None and (outcome.votes or outcome.status != "open"):
            continue  # validators have begun: theirs to finish
        decision = model.decide(vector, rules.auto_decide_precision)
        if decision is not None:
            answer = ReviewAnswer.ACCEPT if decision.end is End.ACCEPT else ReviewAnswer.REJECT
            finalize(s, sub, answer, now, by=BY_MODEL, reason=decision.reason)
            decided += 1
    return decided


def _in_review(s: Session) -> Sequence[Row[Submission, ItemFeatures]]:
    appealed = select(Appeal.submission_id)
    return s.execute(
        select(Submission, ItemFeatures)
        .join(ItemFeatures, ItemFeatures.submission_id == Submission.id)
        .where(Submission.state == SubmissionState.IN_REVIEW.value, Submission.id.not_in(appealed))
        .order_by(Submission.id)
        .limit(FILL_BATCH)
    ).all()


def _labelled_query(task_id: int, model: str) -> Select[bytes, str | None]:
    """The task's final decisions (not the model's own) on items with this model's features, newest first."""
    return (
        select(ItemFeatures.vector, ReviewOutcome.answer)
        .join(ReviewOutcome, ReviewOutcome.submission_id == ItemFeatures.submission_id)
        .join(Submission, Submission.id == ItemFeatures.submission_id)
        .where(
            Submission.task_id == task_id,
            ItemFeatures.model == model,
            ReviewOutcome.status == "final",
            ReviewOutcome.answer.is_not(None),
            ReviewOutcome.decided_by != BY_MODEL,
        )
        .order_by(ReviewOutcome.updated_at.desc(), ReviewOutcome.submission_id.desc())  # newest first
    )


def _vector(raw: bytes) -> np.typing.NDArray[np.float32]:
    return np.frombuffer(raw, dtype="<f4").astype(np.float32)
