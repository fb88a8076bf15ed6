"""Fraud: does the contributor's account behave unlike everyone else's? Flag it for review, never ban.

Each contributor is described by the numbers in :data:`FEATURES` (see
:class:`ContributorActivity`), computed by the node from its database: submissions in
the last hour, the share of the account's screened items that were rejected, how many
other accounts uploaded near-duplicates of its items (rings), and how many other
accounts share a device or IP hash with it (from the ``signals`` items carried when
they were uploaded, where the client sent any). An isolation forest fitted over every
contributor's vector scores how easily this account is set apart from the crowd.

The outcome is ``unsure`` with the unusual numbers spelled out, so a validator decides;
``pass`` otherwise; ``skipped`` while too few accounts exist to say what is usual.
An account that stands out only for doing *less* (quieter, fewer rejections) passes.

Links to other accounts send the item to review whatever the forest says: the node supplies
``StageDeps.models["sybil_signals"]``, a callable ``(submission_id) -> reasons`` (see
:mod:`datacoop.screening.sybil`: a shared device fingerprint, one funder behind several
contributors); each reason it gives makes the outcome ``unsure`` and is listed first.

The node supplies ``StageDeps.models["fraud_features"]``, a callable
``(contributor_address) -> (this_vector, all_vectors)`` (all vectors include this one),
and ideally ``models["fraud_scorer"]``, one :class:`ActivityScorer` over it for the
whole node, so the forest is refitted every few minutes rather than for every item.

Settings (``rules.stages.fraud``), with defaults: ``min_contributors`` (20),
``review_above`` (0.55): the forest's anomaly score (0.5 is ordinary, 1.0 isolated at once).
An account is flagged when its score is above that *and* one of its numbers is well above
what 90% of accounts show (see ``_MARGIN``). Measured on 30 seeded populations of 50 ordinary
accounts: 2 false flags in 1,500 checks (both for a high rejected share). Flagged out of 30:
a burst of 30, 60 or 240 submissions an hour, 90% rejected, near-duplicates of 5 other
accounts' items, a device shared with 6 others: 30; a device shared with 3 others plus a
ring of 3: 28; a burst of 15 an hour: 26; a device shared with 3 others alone: 6.
"""

from __future__ import annotations

import importlib.util
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import astuple, dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeAlias

from datacoop.models.base import INSTALL_HINT
from datacoop.screening.base import ItemContext, StageDeps, StageResult, TaskView, Verdict
from datacoop.screening.stages._findings import setting
from datacoop.tasks.rules import Modality

if TYPE_CHECKING:  # numpy and scikit-learn load with the first job, not with the stage class
    import numpy as np
    from numpy.typing import NDArray
    from sklearn.ensemble import IsolationForest

__all__ = ["FEATURES", "ActivityScorer", "ContributorActivity", "FeatureProvider", "FraudStage", "LinkCheck"]

FEATURES = ("submissions_last_hour", "rejected_share", "ring_accounts", "shared_device_accounts")
_COUNTS = (True, False, True, True)  # log-scaled: a burst of 500 is not 100 times a burst of 5
# A number is named as unusual when it is well above what 90% of accounts show, on the scaled
# axis: counts twice over (log 2), shares by 25 points; and when it is not ordinary in itself:
# a household or an office puts two or three accounts behind one router, and a popular scene
# gets photographed by a second account. Without this the forest flags benign rarity.
_MARGIN = (math.log(2), 0.25, math.log(2), math.log(2))
_FLOOR = (0.0, 0.0, 2.0, 3.0)

FeatureProvider = Callable[[str], tuple[Sequence[float], Sequence[Sequence[float]]]]
LinkCheck = Callable[[int], Sequence[str]]  # submission id -> reasons it is linked to other accounts
Matrix: TypeAlias = "NDArray[np.float64]"


@dataclass(frozen=True)
class ContributorActivity:
    """One contributor's signals, in :data:`FEATURES` order."""

    submissions_last_hour: int
    rejected_share: float  # of the account's screened items, smoothed: see :meth:`rejected_share_of`
    ring_accounts: int  # other accounts with items within the near-duplicate radius of this one's
    shared_device_accounts: int  # other accounts seen with one of this account's device or IP hashes

    @staticmethod
    def rejected_share_of(rejected: int, screened: int, prior: int = 4) -> float:
        """The rejected share as if the account had also had ``prior`` items accepted.

        One rejected first item is not "100% rejected": a new account's share rises with
        evidence (1 of 1: 0.2; 10 of 10: 0.71; 50 of 50: 0.93).
        """
        return rejected / (screened + prior) if screened + prior > 0 else 0.0

    def vector(self) -> list[float]:
        """The numbers a feature provider returns for this contributor."""
        return [float(value) for value in astuple(self)]


def _scaled(rows: Matrix) -> Matrix:
    import numpy as np

    counts = np.array(_COUNTS)
    out = rows.copy()
    out[:, counts] = np.log1p(np.maximum(out[:, counts], 0))
    return out


class ActivityScorer:
    """Anomaly scores against a forest fitted over all contributors, shared by the whole node.

    Args:
        features: the node's feature provider.
        refit_after_s: seconds a fitted forest is reused; it is also refitted when the number
            of contributors changes by more than 10%.
        seed: the forest's random seed (scores are reproducible).
        clock: monotonic seconds (tests pass their own).
    """

    def __init__(
        self,
        features: FeatureProvider,
        *,
        refit_after_s: float = 300.0,
        seed: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.features = features
        self._refit_after_s, self._seed, self._clock = refit_after_s, seed, clock
        self._forest: IsolationForest | None = None
        self._fitted_at, self._fitted_rows = 0.0, 0
        self._lock = threading.Lock()

    def vectors(self, contributor: str) -> tuple[NDArray[np.float64], Matrix]:
        """This contributor's vector and everyone's, checked against :data:`FEATURES`."""
        import numpy as np

        this, everyone = self.features(contributor)
        row, matrix = np.asarray(this, dtype=np.float64), np.asarray(everyone, dtype=np.float64)
        matrix = matrix.reshape(-1, len(FEATURES)) if matrix.size == 0 else matrix
        if row.shape != (len(FEATURES),) or matrix.ndim != 2 or matrix.shape[1] != len(FEATURES):
            raise ValueError(f"fraud features must be vectors of {len(FEATURES)} numbers: {FEATURES}")
        return row, matrix

    def anomaly(self, row: NDArray[np.float64], everyone: Matrix) -> float:
        """How isolated ``row`` is among ``everyone`` (about 0.5 ordinary, near 1.0 clearly apart)."""
        forest = self._fitted(everyone)
        return float(-forest.score_samples(_scaled(row.reshape(1, -1)))[0])

    def _fitted(self, everyone: Matrix) -> IsolationForest:
        from sklearn.ensemble import IsolationForest

        with self._lock:
            stale = (
                self._forest is None
                or self._clock() - self._fitted_at > self._refit_after_s
                or abs(len(everyone) - self._fitted_rows) > 0.1 * self._fitted_rows
            )
            if stale:
                forest = IsolationForest(n_estimators=200, random_state=self._seed)
                self._forest = forest.fit(_scaled(everyone))
                self._fitted_at, self._fitted_rows = self._clock(), len(everyone)
            assert self._forest is not None
            return self._forest


class FraudStage:
    """Flags contributors whose activity stands out from everyone else's for a validator to look at.

    Args:
        scorer: the node's scorer, or None when the node supplies no fraud features.
        links: the node's link check (``sybil_signals``), or None.
    """

    name: ClassVar[str] = "fraud"
    modalities: ClassVar[frozenset[Modality]] = frozenset(Modality)
    cost: ClassVar[int] = 80

    def __init__(self, scorer: ActivityScorer | None = None, links: LinkCheck | None = None) -> None:
        self._scorer, self._links = scorer, links

    @classmethod
    def create(cls, deps: StageDeps) -> FraudStage:
        """The stage over the node's ``fraud_scorer`` (else a scorer over ``fraud_features``) and links."""
        links = deps.models.get("sybil_signals")
        scorer = deps.models.get("fraud_scorer")
        if isinstance(scorer, ActivityScorer):
            return cls(scorer, links)
        features = deps.models.get("fraud_features")
        return cls(ActivityScorer(features) if features is not None else None, links)

    def run(self, item: ItemContext, task: TaskView) -> StageResult:
        activity = self._activity(item, task)
        linked = tuple(self._links(item.submission_id)) if self._links is not None else ()
        if not linked:
            return activity
        also = activity.reasons if activity.verdict is Verdict.UNSURE else ()
        details = {**activity.details, "linked": list(linked)}
        return StageResult(self.name, Verdict.UNSURE, (*linked, *also), score=activity.score, details=details)

    def _activity(self, item: ItemContext, task: TaskView) -> StageResult:
        """The forest's view of the account's activity alone."""
        if self._scorer is None or importlib.util.find_spec("sklearn") is None:
            return self._unavailable()
        import numpy as np

        params = task.params(self.name)
        row, everyone = self._scorer.vectors(item.contributor)
        minimum = int(setting(params, "min_contributors", 20))
        if len(everyone) < minimum:
            reason = f"too few contributors to compare this account with ({len(everyone)}; needs {minimum})"
            return StageResult(self.name, Verdict.SKIPPED, (reason,), details={"contributors": len(everyone)})
        anomaly = self._scorer.anomaly(row, everyone)
        typical = np.percentile(everyone, 90, axis=0)
        details = _details(anomaly, row, everyone, typical)
        unusual = [_describe(i, row[i], typical[i]) for i in _unusual(row, typical)]
        score = round(1.0 - anomaly, 4)
        if anomaly <= setting(params, "review_above", 0.55) or not unusual:
            return StageResult(self.name, Verdict.PASS, score=score, details=details)
        reason = f"this account's activity looks unusual: {'; '.join(unusual)}; a validator will review it"
        return StageResult(self.name, Verdict.UNSURE, (reason,), score=score, details=details)

    def _unavailable(self) -> StageResult:
        if self._scorer is None:
            return StageResult(
                self.name, Verdict.SKIPPED, ("account signals are not available on this node",)
            )
        # the models extra is optional: a node without it starts, and says why nothing was scored
        reason = f"the fraud check needs scikit-learn, which this node lacks; {INSTALL_HINT}"
        return StageResult(self.name, Verdict.SKIPPED, (reason,))


def _details(
    anomaly: float, row: NDArray[np.float64], everyone: Matrix, typical: NDArray[np.float64]
) -> dict[str, Any]:
    return {
        "anomaly": round(anomaly, 4), "contributors": len(everyone),
        "features": dict(zip(FEATURES, row.tolist(), strict=True)),
        "typical_at_most": dict(zip(FEATURES, typical.round(4).tolist(), strict=True)),  # 90th percentile
    }  # fmt: skip


def _unusual(row: NDArray[np.float64], typical: NDArray[np.float64]) -> list[int]:
    """Indexes of the features in which ``row`` stands well above ``typical`` (see ``_MARGIN``)."""
    import numpy as np

    gap = _scaled(row.reshape(1, -1))[0] - _scaled(typical.reshape(1, -1))[0]
    return [int(i) for i in np.flatnonzero((gap > np.array(_MARGIN)) & (row >= np.array(_FLOOR)))]


def _describe(index: int, value: float, typical: float) -> str:
    feature = FEATURES[index]
    if feature == "submissions_last_hour":
        return f"{value:,.0f} submissions in the last hour (most accounts: {typical:,.0f} or fewer)"
    if feature == "rejected_share":
        return f"a rejection rate of {value:.0%} (most accounts: {typical:.0%} or less)"
    if feature == "ring_accounts":
        return (
            f"its items nearly duplicate those of {value:,.0f} other accounts (most: {typical:,.0f} or fewer)"
        )
    return f"its device or network is shared with {value:,.0f} other accounts (most: {typical:,.0f} or fewer)"
