"""A task's own relevance model, without I/O: logistic regression on item features, learned online.

Each labelled item (a gold item's answer, or a validator decision once final) is first scored by
the model as it stands and only then learned from: these prequential scores are honest held-out
predictions, so they give both the calibration (Platt scaling of the raw score) and the precision
the model has reached at each confident end. The review service and ``benchmarks/task_model.py``
share this class; the service loads the task's labelled features, the benchmark feeds its own.

Auto-decision is the requester's choice (``rules.review.auto_decide_precision``, default None: never).
An item is auto-decided at an end only when the task has ``min_labelled`` labels, at least
``min_at_end`` held-out predictions fell at that end, their precision is at least the requester's
threshold, and the item's calibrated probability is at that end (at least the same threshold).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["AutoDecision", "End", "EndRecord", "TaskModel", "expected_calibration_error"]

Features = npt.NDArray[np.float32]
_MAX_ITER = 25


class End(enum.StrEnum):
    """A confident end of the model's scale: likely off-topic (reject) or likely acceptable (accept)."""

    REJECT = "reject"
    ACCEPT = "accept"


@dataclass(frozen=True)
class EndRecord:
    """Held-out predictions that fell at one end, and how many of them the final decision confirmed."""

    predicted: int
    correct: int

    @property
    def precision(self) -> float | None:
        return self.correct / self.predicted if self.predicted else None


@dataclass(frozen=True)
class AutoDecision:
    """What the model decides for an item, with the reason recorded beside the decision."""

    end: End
    probability: float  # of the decided answer
    precision: float
    over: int  # held-out decisions behind the precision

    @property
    def reason(self) -> str:
        name = "p(off-topic)" if self.end is End.REJECT else "p(acceptable)"
        return (
            f"auto-decided by the task model: {name} {self.probability:.2f}, "
            f"held-out precision {self.precision:.3f} over {self.over} decisions"
        )


class TaskModel:
    """L2-regularised logistic regression refit on a task's labelled items, with Platt calibration.

    Args:
        l2: the ridge penalty on the weights (not the bias).
        cap: labelled items kept for fitting; the oldest go first (tasks drift).
        min_labelled: labels before any auto-decision.
        min_at_end: held-out predictions at an end before its precision is trusted.
    """

    def __init__(
        self, *, l2: float = 1.0, cap: int = 2000, min_labelled: int = 50, min_at_end: int = 20
    ) -> None:
        self.l2, self.cap, self.min_labelled, self.min_at_end = l2, cap, min_labelled, min_at_end
        self._x: list[Features] = []
        self._y: list[int] = []
        self._w: npt.NDArray[np.float64] | None = None
        self._held_out: list[tuple[float, int]] = []  # (raw logit before learning, label)
        self._platt = (1.0, 0.0)
        self.labelled = 0

    def probability(self, features: Features) -> float | None:
        """Calibrated p(acceptable) of one item; None before the model has seen both answers."""
        if self._w is None:
            return None
        a, b = self._platt
        return float(_sigmoid(a * self._logit(features) + b))

    def learn(self, features: Features, label: int, *, refit: bool = True) -> None:
        """Score the item as the model stands (held out), then add its label and refit."""
        if self._w is not None:
            self._held_out.append((self._logit(features), label))
        self._x.append(np.asarray(features, dtype=np.float32))
        self._y.append(int(label))
        self.labelled += 1
        if len(self._y) > self.cap:
            del self._x[0], self._y[0]
        if refit:
            self.fit()

    def fit(self) -> None:
        """Refit the weights on the labelled items and the calibration on the held-out scores."""
        if len(set(self._y)) < 2:
            return
        self._w = _logistic(np.stack(self._x), np.asarray(self._y), self.l2)
        if len({label for _, label in self._held_out}) == 2:
            logits, labels = zip(*self._held_out[-self.cap :], strict=True)
            self._platt = _platt(np.asarray(logits), np.asarray(labels))

    def record(self, end: End, cut: float) -> EndRecord:
        """How the held-out predictions whose calibrated p of this end was at least ``cut`` fared."""
        predicted = correct = 0
        wanted = 1 if end is End.ACCEPT else 0
        for p, label in self.held_out():
            if (p if end is End.ACCEPT else 1 - p) >= cut:
                predicted += 1
                correct += int(label == wanted)
        return EndRecord(predicted, correct)

    def decide(self, features: Features, precision: float | None) -> AutoDecision | None:
        """The auto-decision for an item, or None (keep it for validators).

        Args:
            features: the item's feature vector.
            precision: the requester's ``auto_decide_precision``, also the probability an item needs;
                None never auto-decides.
        """
        if precision is None or self.labelled < self.min_labelled:
            return None
        p = self.probability(features)
        if p is None:
            return None
        end, p_end = (End.ACCEPT, p) if p >= 0.5 else (End.REJECT, 1 - p)
        if p_end < precision:
            return None
        record = self.record(end, precision)
        reached = record.precision
        if record.predicted < self.min_at_end or reached is None or reached < precision:
            return None
        return AutoDecision(end, p_end, reached, record.predicted)

    def held_out(self) -> list[tuple[float, int]]:
        """Calibrated held-out probabilities and their labels, oldest first."""
        a, b = self._platt
        return [(float(_sigmoid(a * logit + b)), label) for logit, label in self._held_out]

    def _logit(self, features: Features) -> float:
        assert self._w is not None
        return float(np.dot(self._w[:-1], features) + self._w[-1])


def expected_calibration_error(pairs: Sequence[tuple[float, int]], bins: int = 10) -> float:
    """The weighted mean gap between predicted probability and observed frequency over equal-width bins."""
    if not pairs:
        return 0.0
    p = np.asarray([q for q, _ in pairs])
    y = np.asarray([label for _, label in pairs])
    index = np.minimum((p * bins).astype(int), bins - 1)
    gap = sum(abs(p[index == b].mean() - y[index == b].mean()) * (index == b).sum() for b in np.unique(index))
    return float(gap / len(p))


def _sigmoid(z: npt.ArrayLike) -> npt.NDArray[np.float64]:
    return 1.0 / (1.0 + np.exp(-np.clip(np.asarray(z, dtype=np.float64), -35, 35)))


def _logistic(x: npt.NDArray[np.float32], y: npt.NDArray[np.int64], l2: float) -> npt.NDArray[np.float64]:
    """Newton's method on the penalised log loss; weights then bias."""
    design = np.hstack([x.astype(np.float64), np.ones((len(x), 1))])
    penalty = np.full(design.shape[1], l2)
    penalty[-1] = 0.0
    w = np.zeros(design.shape[1])
    for _ in range(_MAX_ITER):
        p = _sigmoid(design @ w)
        gradient = design.T @ (p - y) + penalty * w
        hessian = (design * (p * (1 - p))[:, None]).T @ design + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-6:
            break
    return w


def _platt(logits: npt.NDArray[np.float64], labels: npt.NDArray[np.int64]) -> tuple[float, float]:
    """Platt's scale and shift of held-out logits, with his smoothed targets (no 0 or 1 certainty)."""
    positives = int(labels.sum())
    negatives = len(labels) - positives
    target = np.where(labels == 1, (positives + 1) / (positives + 2), 1 / (negatives + 2))
    design = np.stack([logits, np.ones_like(logits)], axis=1)
    w = np.array([1.0, 0.0])
    for _ in range(_MAX_ITER):
        p = _sigmoid(design @ w)
        gradient = design.T @ (p - target)
        hessian = (design * (p * (1 - p))[:, None]).T @ design + np.eye(2) * 1e-6
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-7:
            break
    return float(w[0]), float(w[1])
