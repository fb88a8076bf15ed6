"""Consensus over validators' votes: majority vote, Dawid–Skene, and the decision an item gets next.

Pure computation (numpy, no I/O): the review service gathers votes and gold answers and asks
:func:`dawid_skene` for each item's posterior and each validator's skill, then :func:`decide` says whether
an item is final, needs more votes, or goes to the requester.

Dawid–Skene (1979) models each validator by a confusion matrix (rows: true class, columns: the answer
given) and fits the matrices, the class priors and every item's class posterior by EM, starting from the
majority vote. Laplace (Dirichlet) smoothing keeps every probability away from zero, so one vote never
makes a validator look perfect. Items with a gold answer are held at their known class: that is how gold
items calibrate the validators who answered them.
"""

from __future__ import annotations

import enum
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from datacoop.errors import InvalidInput

__all__ = ["Aggregate", "Decision", "ItemPosterior", "Vote", "dawid_skene", "decide", "majority"]

Matrix = npt.NDArray[np.float64]
Index = npt.NDArray[np.intp]


@dataclass(frozen=True)
class Vote:
    item: Hashable  # e.g. a submission id
    validator: Hashable  # e.g. an address
    answer: int  # class index; accept/reject: 1 = accept, 0 = reject


@dataclass(frozen=True)
class ItemPosterior:
    answer: int  # the most probable class (the lowest index on a tie)
    posterior: float  # its probability
    probabilities: tuple[float, ...]
    votes: int


@dataclass(frozen=True)
class Aggregate:
    items: dict[Hashable, ItemPosterior]
    # Each validator's accuracy with every true class weighted equally (the mean of the confusion
    # diagonal), so a validator who always gives the common answer scores chance, not the base rate.
    skill: dict[Hashable, float]
    confusion: dict[Hashable, tuple[tuple[float, ...], ...]]  # per validator; rows = true class


class Decision(enum.StrEnum):
    FINAL = "final"
    MORE_VOTES = "more_votes"
    ESCALATE = "escalate"  # to the requester


def decide(p: ItemPosterior, *, threshold: float = 0.95, max_votes: int = 7) -> Decision:
    """FINAL when ``p.posterior >= threshold``; MORE_VOTES while ``p.votes < max_votes``; else ESCALATE.

    A sequential test: after each vote the item's posterior (each vote weighted by its validator's
    confusion matrix, fitted with gold items held at their known answer) either passes the threshold for
    its leading class and the item stops, or one more validator is asked; only an item still below the
    threshold at ``max_votes`` goes to the requester. The threshold is the error a final item may still
    carry: 0.95 tolerates up to 5% per item. In the simulation (``benchmarks/consensus.py``) 0.98 is what
    keeps decisions at or above 98% correct with about 4 votes per item and under 5% escalated.
    """
    if not 0.0 < threshold <= 1.0:
        raise InvalidInput(f"threshold must be in (0, 1], got {threshold}", field="threshold", limit="(0, 1]")
    if max_votes < 1:
        raise InvalidInput(f"max_votes must be at least 1, got {max_votes}", field="max_votes", limit=1)
    if p.posterior >= threshold:
        return Decision.FINAL
    return Decision.MORE_VOTES if p.votes < max_votes else Decision.ESCALATE


@dataclass(frozen=True)
class _Votes:
    """Votes as parallel index arrays; items and validators numbered in order of first appearance."""

    items: list[Hashable]
    validators: list[Hashable]
    item: Index
    validator: Index
    answer: Index
    n_classes: int

    @property
    def counts(self) -> Matrix:
        """Per item, how many votes each class got."""
        cells = np.bincount(
            self.item * self.n_classes + self.answer, minlength=len(self.items) * self.n_classes
        )
        return cells.reshape(-1, self.n_classes).astype(np.float64)


def _index(votes: Iterable[Vote], n_classes: int) -> _Votes:
    if n_classes < 2:
        raise InvalidInput(f"n_classes must be at least 2, got {n_classes}", field="n_classes", limit=2)
    items: dict[Hashable, int] = {}
    validators: dict[Hashable, int] = {}
    seen: set[tuple[int, int]] = set()
    rows: list[tuple[int, int, int]] = []
    for n, vote in enumerate(votes):
        if not 0 <= vote.answer < n_classes:
            raise InvalidInput(
                f"votes[{n}].answer must be a class index below {n_classes}, got {vote.answer}",
                field=f"votes[{n}].answer",
                limit=f"0..{n_classes - 1}",
            )
        i = items.setdefault(vote.item, len(items))
        j = validators.setdefault(vote.validator, len(validators))
        if (i, j) in seen:
            raise InvalidInput(
                f"votes[{n}]: validator {vote.validator!r} already voted on item {vote.item!r}",
                field=f"votes[{n}]",
                limit="one vote per validator per item",
            )
        seen.add((i, j))
        rows.append((i, j, vote.answer))
    table = np.array(rows, dtype=np.intp).reshape(-1, 3)
    return _Votes(list(items), list(validators), table[:, 0], table[:, 1], table[:, 2], n_classes)


def _gold_posteriors(v: _Votes, gold: Mapping[Any, int] | None) -> tuple[Index, Index]:
    """The rows of gold items among the voted ones, and their known classes."""
    rows: list[int] = []
    classes: list[int] = []
    position = {item: i for i, item in enumerate(v.items)}
    for item, answer in (gold or {}).items():
        if not 0 <= answer < v.n_classes:
            raise InvalidInput(
                f"gold[{item!r}] must be a class index below {v.n_classes}, got {answer}",
                field=f"gold[{item!r}]",
                limit=f"0..{v.n_classes - 1}",
            )
        if item in position:  # a gold item nobody voted on yet says nothing about anyone
            rows.append(position[item])
            classes.append(answer)
    return np.array(rows, dtype=np.intp), np.array(classes, dtype=np.intp)


def _confusion(v: _Votes, posteriors: Matrix, smoothing: float) -> Matrix:
    """Per validator, expected (true class, answer) counts under the posteriors, smoothed, row-normalised."""
    k = v.n_classes
    cells = v.validator * k + v.answer
    counts = np.empty((len(v.validators), k, k))
    for true in range(k):
        weights = posteriors[v.item, true]
        counts[:, true, :] = np.bincount(cells, weights, len(v.validators) * k).reshape(-1, k)
    counts += smoothing
    totals = counts.sum(axis=2, keepdims=True)
    confusion: Matrix = np.divide(counts, totals, out=np.full_like(counts, 1.0 / k), where=totals > 0)
    return confusion


def _posteriors(v: _Votes, priors: Matrix, confusion: Matrix) -> Matrix:
    """E-step: each item's class posterior from the priors and the confusion of each vote."""
    tiny = np.finfo(np.float64).tiny  # smoothing=0 may leave zeros; log(0) would warn
    log_confusion = np.log(np.maximum(confusion, tiny))
    log_priors = np.log(np.maximum(priors, tiny))
    per_vote = log_confusion[v.validator, :, v.answer]  # (votes, classes)
    scores = np.tile(log_priors, (len(v.items), 1))
    for c in range(v.n_classes):  # bincount sums per item far faster than np.add.at
        scores[:, c] += np.bincount(v.item, per_vote[:, c], len(v.items))
    scores -= scores.max(axis=1, keepdims=True)
    probabilities: Matrix = np.exp(scores)
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    return probabilities


def _clamp(posteriors: Matrix, gold_rows: Index, gold_classes: Index) -> Matrix:
    posteriors[gold_rows] = 0.0
    posteriors[gold_rows, gold_classes] = 1.0
    return posteriors


def _aggregate(v: _Votes, posteriors: Matrix, confusion: Matrix) -> Aggregate:
    votes_per_item = np.bincount(v.item, minlength=len(v.items))
    answers = posteriors.argmax(axis=1)  # argmax takes the first maximum: ties go to the lowest class
    items = {
        item: ItemPosterior(
            answer=int(answers[i]),
            posterior=float(posteriors[i, answers[i]]),
            probabilities=tuple(float(p) for p in posteriors[i]),
            votes=int(votes_per_item[i]),
        )
        for i, item in enumerate(v.items)
    }
    skill = np.diagonal(confusion, axis1=1, axis2=2).mean(axis=1)
    return Aggregate(
        items=items,
        skill={validator: float(skill[j]) for j, validator in enumerate(v.validators)},
        confusion={
            validator: tuple(tuple(float(p) for p in row) for row in confusion[j])
            for j, validator in enumerate(v.validators)
        },
    )


def majority(votes: Iterable[Vote], n_classes: int = 2) -> Aggregate:
    """Each item's class shares of its votes; a validator's confusion is their answers against the majority.

    The posterior is the winning share (2 of 3 votes: 0.67), so :func:`decide` asks for more votes on narrow
    margins. Ties go to the lowest class index.
    """
    v = _index(votes, n_classes)
    if not v.items:
        return Aggregate({}, {}, {})
    counts = v.counts
    shares = counts / counts.sum(axis=1, keepdims=True)
    winners = np.zeros_like(shares)
    winners[np.arange(len(v.items)), shares.argmax(axis=1)] = 1.0
    return _aggregate(v, shares, _confusion(v, winners, smoothing=0.0))


def dawid_skene(
    votes: Iterable[Vote],
    n_classes: int = 2,
    *,
    gold: Mapping[Any, int] | None = None,  # Any: Mapping keys are invariant, so dict[UUID, int] must fit
    max_iter: int = 100,
    tol: float = 1e-6,
    smoothing: float = 1.0,
) -> Aggregate:
    """Fit Dawid–Skene by EM and return every item's posterior and every validator's skill.

    Args:
        votes: one vote per validator per item.
        n_classes: number of classes (answers are ``0..n_classes-1``).
        gold: known answers; these items are held at their class and calibrate who answered them.
        max_iter: EM iterations at most.
        tol: stop when no item's posterior moves by more than this.
        smoothing: Dirichlet pseudo-count added to every confusion cell and class prior.

    Deterministic: initialised from the majority vote shares, no randomness.
    """
    if max_iter < 1:
        raise InvalidInput(f"max_iter must be at least 1, got {max_iter}", field="max_iter", limit=1)
    if not tol > 0:
        raise InvalidInput(f"tol must be positive, got {tol}", field="tol", limit="> 0")
    if not smoothing >= 0:
        raise InvalidInput(
            f"smoothing must be non-negative, got {smoothing}", field="smoothing", limit=">= 0"
        )
    v = _index(votes, n_classes)
    gold_rows, gold_classes = _gold_posteriors(v, gold)
    if not v.items:
        return Aggregate({}, {}, {})
    counts = v.counts
    posteriors = _clamp(counts / counts.sum(axis=1, keepdims=True), gold_rows, gold_classes)
    for _ in range(max_iter):
        priors = (posteriors.sum(axis=0) + smoothing) / (len(v.items) + n_classes * smoothing)
        confusion = _confusion(v, posteriors, smoothing)
        updated = _clamp(_posteriors(v, priors, confusion), gold_rows, gold_classes)
        converged = float(np.abs(updated - posteriors).max()) < tol
        posteriors = updated
        if converged:
            break
    return _aggregate(v, posteriors, _confusion(v, posteriors, smoothing))
