"""FraudStage: an isolation forest over every contributor's activity flags outliers for review, never bans."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pytest

from datacoop.screening.base import ItemContext, StageDeps, TaskView, Verdict
from datacoop.screening.stages.fraud import FEATURES, ActivityScorer, ContributorActivity, FraudStage
from datacoop.tasks.rules import Modality

HOUR = 3600.0
NOW = 1_000_000.0


@dataclass
class Upload:
    contributor: str
    at: float
    rejected: bool = False
    signals: dict[str, str] = field(default_factory=dict)  # device/IP hashes, as item.signals carried them
    near_duplicate_of: str | None = None  # the account whose item this one nearly duplicates


class InMemoryActivity:
    """The feature provider over a list of uploads (the node computes the same from its database)."""

    def __init__(self, uploads: Sequence[Upload], now: float = NOW) -> None:
        self.uploads, self.now, self.calls = list(uploads), now, 0

    def activity(self) -> dict[str, ContributorActivity]:
        by_account: dict[str, list[Upload]] = defaultdict(list)
        sharers: dict[str, set[str]] = defaultdict(set)
        rings: dict[str, set[str]] = defaultdict(set)
        for upload in self.uploads:
            by_account[upload.contributor].append(upload)
            for kind, digest in upload.signals.items():
                sharers[f"{kind}:{digest}"].add(upload.contributor)
            if upload.near_duplicate_of not in (None, upload.contributor):
                rings[upload.contributor].add(str(upload.near_duplicate_of))
                rings[str(upload.near_duplicate_of)].add(upload.contributor)
        return {
            account: ContributorActivity(
                submissions_last_hour=sum(u.at > self.now - HOUR for u in uploads),
                rejected_share=ContributorActivity.rejected_share_of(
                    sum(u.rejected for u in uploads), len(uploads)
                ),
                ring_accounts=len(rings[account]),
                shared_device_accounts=len(
                    {other for u in uploads for k, d in u.signals.items() for other in sharers[f"{k}:{d}"]}
                    - {account}
                ),
            )
            for account, uploads in by_account.items()
        }

    def __call__(self, contributor: str) -> tuple[list[float], list[list[float]]]:
        self.calls += 1
        everyone = self.activity()
        return everyone[contributor].vector(), [a.vector() for a in everyone.values()]


def ordinary_accounts(count: int, seed: int = 11) -> list[Upload]:
    """``count`` accounts uploading a few items in six hours, one in eight rejected, some sharing a router."""
    rng = np.random.default_rng(seed)
    uploads: list[Upload] = []
    for n in range(count):
        account = f"0x{n:040x}"
        router = f"home-{n - n % 2}" if n % 10 < 2 else f"net-{n}"  # a household: two accounts, one router
        for _ in range(int(rng.integers(1, 7))):
            at = NOW - float(rng.uniform(0, 6 * HOUR))
            uploads.append(Upload(account, at, rejected=bool(rng.random() < 0.12), signals={"ip": router}))
    return uploads


def burst(account: str, count: int = 240) -> list[Upload]:
    return [Upload(account, NOW - i * 10.0, signals={"ip": "burst"}) for i in range(count)]


def _item(contributor: str) -> ItemContext:
    return ItemContext(1, "bafy", 0, contributor, lambda: b"", lambda _: "")


def _task(**params: float) -> TaskView:
    return TaskView(1, Modality.IMAGE, "Street photos", "Photos of streets", {"stages": {"fraud": params}})


def _stage(uploads: Sequence[Upload]) -> FraudStage:
    return FraudStage(ActivityScorer(InMemoryActivity(uploads), seed=0))


BURSTER = "0x" + "bb" * 20


def test_a_burst_account_among_fifty_ordinary_ones_is_flagged_for_review() -> None:
    # Prepare
    stage = _stage(ordinary_accounts(50) + burst(BURSTER))
    # Execute
    result = stage.run(_item(BURSTER), _task())
    # Assert
    assert result.verdict is Verdict.UNSURE
    assert result.reasons[0].startswith(
        "this account's activity looks unusual: 240 submissions in the last hour"
    )
    assert result.reasons[0].endswith("a validator will review it")
    assert result.details["features"]["submissions_last_hour"] == 240 and result.details["contributors"] == 51


def test_every_ordinary_account_passes() -> None:
    # Prepare
    uploads = ordinary_accounts(50) + burst(BURSTER)
    stage = _stage(uploads)
    # Execute
    verdicts = {u.contributor: stage.run(_item(u.contributor), _task()).verdict for u in uploads}
    # Assert
    del verdicts[BURSTER]
    assert len(verdicts) == 50 and set(verdicts.values()) == {Verdict.PASS}


def test_a_ring_sharing_one_device_is_flagged_with_its_reasons() -> None:
    # Prepare: six accounts on one device uploading copies of one another's items, among 200
    ring = [f"0x{0xAA00 + n:040x}" for n in range(6)]
    uploads = [
        Upload(account, NOW - HOUR * 2, signals={"device": "same-phone"}, near_duplicate_of=ring[(i + 1) % 6])
        for i, account in enumerate(ring)
        for _ in range(3)
    ]
    stage = _stage(ordinary_accounts(200) + uploads)
    # Execute
    result = stage.run(_item(ring[0]), _task())
    # Assert
    assert result.verdict is Verdict.UNSURE
    assert "its device or network is shared with 5 other accounts" in result.reasons[0]


def test_an_account_unusual_only_for_doing_less_passes() -> None:
    # Prepare: one old upload, never rejected, nothing shared
    quiet = "0x" + "cc" * 20
    stage = _stage([*ordinary_accounts(50), Upload(quiet, NOW - 30 * 24 * HOUR)])
    # Execute / Assert
    assert stage.run(_item(quiet), _task()).verdict is Verdict.PASS


def test_too_few_contributors_to_compare_is_skipped() -> None:
    stage = _stage(ordinary_accounts(10) + burst(BURSTER))
    result = stage.run(_item(BURSTER), _task())
    assert result.verdict is Verdict.SKIPPED
    assert result.reasons == ("too few contributors to compare this account with (11; needs 20)",)


def test_the_task_can_lower_the_population_it_needs() -> None:
    stage = _stage(ordinary_accounts(10) + burst(BURSTER))
    assert stage.run(_item(BURSTER), _task(min_contributors=5)).verdict is not Verdict.SKIPPED


def test_without_account_signals_the_stage_is_skipped() -> None:
    result = FraudStage.create(StageDeps()).run(_item(BURSTER), _task())
    assert result.verdict is Verdict.SKIPPED
    assert result.reasons == ("account signals are not available on this node",)


def test_the_node_wide_scorer_fits_once_and_refits_when_stale() -> None:
    # Prepare
    clock = [0.0]
    scorer = ActivityScorer(InMemoryActivity(ordinary_accounts(50) + burst(BURSTER)), clock=lambda: clock[0])
    deps = StageDeps(models={"fraud_scorer": scorer, "fraud_features": scorer.features})
    # Execute
    FraudStage.create(deps).run(_item(BURSTER), _task())
    first = scorer._forest
    FraudStage.create(deps).run(_item(BURSTER), _task())
    reused = scorer._forest
    clock[0] = 301.0
    FraudStage.create(deps).run(_item(BURSTER), _task())
    # Assert
    assert first is not None and reused is first and scorer._forest is not first


def test_a_plain_feature_provider_is_enough() -> None:
    deps = StageDeps(models={"fraud_features": InMemoryActivity(ordinary_accounts(50) + burst(BURSTER))})
    assert FraudStage.create(deps).run(_item(BURSTER), _task()).verdict is Verdict.UNSURE


def test_scores_are_reproducible() -> None:
    uploads = ordinary_accounts(50) + burst(BURSTER)
    first = _stage(uploads).run(_item(BURSTER), _task())
    assert _stage(uploads).run(_item(BURSTER), _task()).details == first.details


def test_vectors_of_the_wrong_width_are_refused() -> None:
    scorer = ActivityScorer(lambda _: ([1.0, 2.0], [[1.0, 2.0]] * 30))
    with pytest.raises(ValueError, match="4 numbers"):
        FraudStage(scorer).run(_item(BURSTER), _task())


def test_the_stage_is_registered_for_every_modality_last() -> None:
    from datacoop.screening.registry import discover

    assert discover()["fraud"] is FraudStage
    assert FraudStage.modalities == frozenset(Modality) and FraudStage.cost == 80
    assert len(FEATURES) == len(ContributorActivity(1, 0.0, 0, 0).vector())


def test_a_node_without_scikit_learn_skips_rather_than_crashing(monkeypatch: pytest.MonkeyPatch) -> None:
    # Prepare: the models extra is optional; pretend it is not installed
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "sklearn" else real_find_spec(name, *a)
    )
    # Execute
    result = _stage(ordinary_accounts(50) + burst(BURSTER)).run(_item(BURSTER), _task())
    # Assert
    assert result.verdict is Verdict.SKIPPED and "needs scikit-learn" in result.reasons[0]


def test_loading_the_stage_class_imports_no_heavy_library() -> None:
    # The API process loads every stage class at start; numpy and scikit-learn wait for a job.
    probe = (
        "import sys; from datacoop.screening.stages import fraud, relevance; "
        "heavy = ('numpy', 'PIL', 'sklearn', 'scipy', 'torch', 'transformers'); "
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert run.stdout.strip() == "[]"
