"""Consensus: majority, Dawid–Skene (by hand and against crowd-kit), the decision rule, the simulation."""

from __future__ import annotations

import importlib.util
import itertools
import json
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datacoop.errors import InvalidInput
from datacoop.review.consensus import Aggregate, Decision, ItemPosterior, Vote, dawid_skene, decide, majority

BENCHMARK = Path(__file__).parents[3] / "benchmarks" / "consensus.py"


def votes(*rows: tuple[object, object, int]) -> list[Vote]:
    return [Vote(item, validator, answer) for item, validator, answer in rows]


def synthetic(
    seed: int, items: int, accuracies: Sequence[float], per_item: int, n_classes: int = 2
) -> tuple[list[Vote], list[int]]:
    """Votes from validators of the given accuracies (a wrong answer is uniform among the others)."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, n_classes, items).tolist()
    out = []
    for i, true in enumerate(truth):
        for j in rng.choice(len(accuracies), per_item, replace=False):
            wrong = [c for c in range(n_classes) if c != true]
            answer = true if rng.random() < accuracies[j] else int(rng.choice(wrong))
            out.append(Vote(i, f"v{j}", answer))
    return out, truth


def accuracy(result: Aggregate, truth: Sequence[int], skip: frozenset[int] = frozenset()) -> float:
    scored = [i for i in range(len(truth)) if i not in skip]
    return sum(result.items[i].answer == truth[i] for i in scored) / len(scored)


# --- majority -----------------------------------------------------------------------------------------


def test_majority_gives_vote_shares_and_confusion_against_the_winner() -> None:
    result = majority(votes(("x", "a", 1), ("x", "b", 1), ("x", "c", 0), ("y", "a", 0), ("y", "c", 0)))

    assert result.items["x"] == ItemPosterior(
        answer=1, posterior=2 / 3, probabilities=(1 / 3, 2 / 3), votes=3
    )
    assert result.items["y"] == ItemPosterior(answer=0, posterior=1.0, probabilities=(1.0, 0.0), votes=2)
    assert result.confusion["c"] == ((1.0, 0.0), (1.0, 0.0))  # agreed on y (true 0), dissented on x (true 1)
    assert result.confusion["b"] == ((0.5, 0.5), (0.0, 1.0))  # never saw a true-0 item: that row is uniform
    assert result.skill["c"] == pytest.approx(0.5)
    assert result.skill["a"] == pytest.approx(1.0)


def test_a_majority_tie_goes_to_the_lowest_class() -> None:
    result = majority(votes(("x", "a", 1), ("x", "b", 0)))

    assert result.items["x"].answer == 0
    assert result.items["x"].posterior == 0.5


def test_no_votes_give_an_empty_aggregate() -> None:
    assert majority([]) == Aggregate({}, {}, {})
    assert dawid_skene([]) == Aggregate({}, {}, {})
    assert dawid_skene([], gold={"g": 1}) == Aggregate({}, {}, {})


# --- Dawid–Skene: hand-computed and known behaviour --------------------------------------------------------


def test_one_em_step_on_one_vote_is_the_hand_computed_posterior() -> None:
    # Majority start: T = (0, 1). Smoothed priors (0+1)/3, (1+1)/3; the validator's confusion rows:
    # true 0 -> (1/2, 1/2) (no data), true 1 -> (1/3, 2/3). E-step: (1/3·1/2, 2/3·2/3) ∝ (3, 8).
    result = dawid_skene(votes(("x", "a", 1)), max_iter=1)

    assert result.items["x"].probabilities == pytest.approx((3 / 11, 8 / 11))
    assert result.items["x"].answer == 1
    assert result.items["x"].votes == 1


def test_a_symmetric_tie_stays_at_one_half_and_goes_to_the_lowest_class() -> None:
    result = dawid_skene(votes(("x", "a", 1), ("x", "b", 0), ("y", "a", 0), ("y", "b", 1)))

    for item in ("x", "y"):
        assert result.items[item].probabilities == pytest.approx((0.5, 0.5))
        assert result.items[item].answer == 0


def test_a_validator_who_always_disagrees_with_a_reliable_majority_gets_low_skill() -> None:
    # Prepare: five validators who agree on 40 items, one who always says the opposite
    truth = [i % 3 != 0 for i in range(40)]
    rows = [(i, f"good{j}", int(t)) for i, t in enumerate(truth) for j in range(5)]
    rows += [(i, "contrarian", int(not t)) for i, t in enumerate(truth)]

    # Execute
    result = dawid_skene(votes(*rows))

    # Assert
    assert result.skill["contrarian"] < 0.1
    assert all(result.skill[f"good{j}"] > 0.9 for j in range(5))
    assert [result.items[i].answer for i in range(40)] == [int(t) for t in truth]
    confusion = np.array(result.confusion["contrarian"])
    assert confusion[0, 1] > 0.9 and confusion[1, 0] > 0.9  # says accept when it is reject, and back


def test_a_validator_with_one_vote_stays_near_chance() -> None:
    rows = [(i, f"v{j}", 1) for i in range(20) for j in range(3)] + [(0, "newcomer", 1)]

    result = dawid_skene(votes(*rows))

    assert result.skill["newcomer"] < 0.75  # smoothing: one agreeing vote is not proof of skill
    assert result.items[0].votes == 4


def test_gold_items_are_clamped_and_expose_a_colluding_ring() -> None:
    # Prepare: a ring of 3 votes against the truth on every item, 2 honest validators vote with it.
    # Without gold the ring is the majority; gold items reveal who is right.
    truth = [i % 2 for i in range(60)]
    rows = [(i, f"ring{j}", 1 - t) for i, t in enumerate(truth) for j in range(3)]
    rows += [(i, f"honest{j}", t) for i, t in enumerate(truth) for j in range(2)]
    gold = {i: truth[i] for i in range(15)}

    # Execute
    plain = majority(votes(*rows))
    calibrated = dawid_skene(votes(*rows), gold=gold)

    # Assert
    assert accuracy(plain, truth) == 0.0
    assert accuracy(calibrated, truth, skip=frozenset(gold)) == 1.0
    assert all(calibrated.items[i].probabilities[truth[i]] == 1.0 for i in gold)
    assert all(calibrated.skill[f"ring{j}"] < 0.1 for j in range(3))
    assert all(calibrated.skill[f"honest{j}"] > 0.9 for j in range(2))


def test_a_gold_answer_overrides_every_vote_on_its_item() -> None:
    result = dawid_skene(votes(("g", "a", 1), ("g", "b", 1), ("x", "a", 1)), gold={"g": 0, "unvoted": 1})

    assert result.items["g"] == ItemPosterior(answer=0, posterior=1.0, probabilities=(1.0, 0.0), votes=2)
    assert "unvoted" not in result.items


def test_with_adversaries_dawid_skene_beats_majority() -> None:
    # Prepare: 4 good validators, 3 careless (0.6) and 3 that are right only 20% of the time
    accuracies = [0.9] * 4 + [0.6] * 3 + [0.2] * 3
    rows, truth = synthetic(seed=5, items=300, accuracies=accuracies, per_item=5)

    # Execute
    plain, weighted = majority(rows), dawid_skene(rows)

    # Assert
    assert accuracy(weighted, truth) > accuracy(plain, truth) + 0.05
    assert accuracy(weighted, truth) > 0.93
    skills = [weighted.skill[f"v{j}"] for j in range(10)]
    assert min(skills[:4]) > max(skills[4:7]) > max(skills[7:])


def test_three_classes() -> None:
    rows, truth = synthetic(seed=2, items=200, accuracies=[0.85] * 6 + [0.4] * 2, per_item=4, n_classes=3)

    result = dawid_skene(rows, n_classes=3)

    assert accuracy(result, truth) > 0.9
    assert all(len(row) == 3 for row in result.confusion["v0"])


def test_the_result_depends_on_the_votes_not_on_their_order() -> None:
    rows, _ = synthetic(seed=9, items=80, accuracies=[0.9, 0.8, 0.7, 0.6, 0.3], per_item=3)

    first, again, shuffled = dawid_skene(rows), dawid_skene(rows), dawid_skene(rows[::-1])

    assert first == again
    for item, posterior in first.items.items():
        assert shuffled.items[item].probabilities == pytest.approx(posterior.probabilities, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 8), st.integers(0, 5), st.integers(0, 2)),
        max_size=40,
        unique_by=lambda row: (row[0], row[1]),
    ),
    st.dictionaries(st.integers(0, 10), st.integers(0, 2), max_size=3),
    st.sampled_from([0.0, 0.5, 1.0]),
)
def test_any_votes_give_well_formed_results(
    rows: list[tuple[int, int, int]], gold: dict[int, int], smoothing: float
) -> None:
    result = dawid_skene(votes(*rows), n_classes=3, gold=gold, smoothing=smoothing)

    assert set(result.items) == {item for item, _, _ in rows}
    for item, p in result.items.items():
        assert sum(p.probabilities) == pytest.approx(1.0)
        assert p.posterior == max(p.probabilities) == p.probabilities[p.answer]
        assert p.probabilities.index(p.posterior) == p.answer  # the lowest class wins a tie
        assert p.votes == sum(1 for i, _, _ in rows if i == item)
        if item in gold:
            assert p.answer == gold[item] and p.posterior == 1.0
    for validator, matrix in result.confusion.items():
        assert all(sum(row) == pytest.approx(1.0) for row in matrix)
        assert 0.0 <= result.skill[validator] <= 1.0


# --- crowd-kit as the oracle ------------------------------------------------------------------------------


def crowdkit_dawid_skene(
    rows: list[Vote], iterations: int, gold: dict[int, int]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    from crowdkit.aggregation import DawidSkene

    frame = pd.DataFrame([(v.item, v.validator, v.answer) for v in rows], columns=["task", "worker", "label"])
    with warnings.catch_warnings():  # crowd-kit 1.4 calls pandas APIs that pandas 3.1 deprecates
        warnings.simplefilter("ignore", pd.errors.Pandas4Warning)
        model = DawidSkene(n_iter=iterations, tol=-np.inf).fit(frame, pd.Series(gold, dtype="int64"))
    assert model.probas_ is not None and model.errors_ is not None
    return model.probas_, model.errors_


@pytest.mark.parametrize(
    ("seed", "n_classes", "gold_items", "iterations"),
    [(1, 2, 0, 1), (2, 2, 10, 10), (3, 3, 0, 10), (4, 3, 8, 15)],
)
def test_without_smoothing_each_em_step_matches_crowdkit(
    seed: int, n_classes: int, gold_items: int, iterations: int
) -> None:
    # Prepare: validators from hopeless to excellent; a few gold items
    rows, truth = synthetic(seed, 80, [0.3, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95], 4, n_classes)
    gold = {i: truth[i] for i in range(gold_items)}

    # Execute: the same number of EM steps on both sides (crowd-kit's tol=-inf never stops early)
    ours = dawid_skene(rows, n_classes, gold=gold, smoothing=0.0, max_iter=iterations, tol=1e-300)
    probas, errors = crowdkit_dawid_skene(rows, iterations, gold)

    # Assert: crowd-kit floors probabilities at 1e-10; beyond that the two agree
    for item, posterior in ours.items.items():
        expected = [probas.loc[item].get(c, 0.0) for c in range(n_classes)]
        assert posterior.probabilities == pytest.approx(expected, abs=1e-9)
    for (validator, answer), column in errors.iterrows():
        for true, probability in column.items():
            assert ours.confusion[validator][int(true)][int(answer)] == pytest.approx(probability, abs=1e-9)


def test_smoothing_changes_little_where_data_is_plentiful() -> None:
    rows, truth = synthetic(seed=6, items=150, accuracies=[0.55, 0.65, 0.75, 0.85, 0.9, 0.95], per_item=5)

    smoothed = dawid_skene(rows)
    probas, _ = crowdkit_dawid_skene(rows, 30, {})

    agree = sum(smoothed.items[i].answer == int(probas.loc[i].idxmax()) for i in range(150)) / 150
    assert agree >= 0.97
    assert accuracy(smoothed, truth) > 0.9


# --- input errors ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: dawid_skene(votes(("x", "a", 1), ("x", "b", 2))), "votes[1].answer"),
        (lambda: majority(votes(("x", "a", -1))), "votes[0].answer"),
        (lambda: dawid_skene(votes(("x", "a", 1), ("x", "a", 0))), "votes[1]"),
        (lambda: dawid_skene(votes(("x", "a", 1)), gold={"x": 2}), "gold['x']"),
        (lambda: dawid_skene([], n_classes=1), "n_classes"),
        (lambda: dawid_skene([], max_iter=0), "max_iter"),
        (lambda: dawid_skene([], tol=0.0), "tol"),
        (lambda: dawid_skene([], smoothing=-1.0), "smoothing"),
        (lambda: decide(ItemPosterior(1, 0.9, (0.1, 0.9), 3), threshold=1.5), "threshold"),
        (lambda: decide(ItemPosterior(1, 0.9, (0.1, 0.9), 3), max_votes=0), "max_votes"),
    ],
)
def test_bad_input_is_refused_naming_the_field(call: object, field: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        call()  # type: ignore[operator]
    assert exc.value.field == field
    assert exc.value.limit is not None
    assert field in exc.value.message or field.split("[")[0] in exc.value.message


# --- the decision -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("posterior", "votes_so_far", "expected"),
    [
        (0.95, 3, Decision.FINAL),  # the threshold itself is enough
        (0.999, 7, Decision.FINAL),
        (0.949, 3, Decision.MORE_VOTES),
        (0.6, 6, Decision.MORE_VOTES),
        (0.6, 7, Decision.ESCALATE),
        (0.6, 9, Decision.ESCALATE),
    ],
)
def test_decide(posterior: float, votes_so_far: int, expected: Decision) -> None:
    p = ItemPosterior(1, posterior, (1 - posterior, posterior), votes_so_far)

    assert decide(p, threshold=0.95, max_votes=7) is expected


def test_decide_defaults() -> None:
    assert decide(ItemPosterior(0, 0.96, (0.96, 0.04), 3)) is Decision.FINAL
    assert decide(ItemPosterior(0, 0.5, (0.5, 0.5), 7)) is Decision.ESCALATE


# --- the simulation (benchmarks/consensus.py) ---------------------------------------------------------------


def benchmark_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("consensus_benchmark", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def test_the_simulated_review_beats_majority_with_careless_and_adversarial_validators() -> None:
    # Execute: 30% careless, 20% adversarial; reputation acts after 3 gold answers at this small size
    result = benchmark_module().simulate(
        items=400, validators=20, careless=0.3, adversarial=0.2, seed=0, batch=50, min_gold=3
    )

    # Assert
    assert result["skill_weighted_accuracy"] >= 0.95
    assert result["skill_weighted_accuracy"] > result["majority_accuracy"]
    assert result["votes_per_item"] <= 5
    rewards = result["validator_reward_totals"]
    assert rewards["honest"]["per_validator"] > 2 * rewards["careless"]["per_validator"]
    assert rewards["careless"]["per_validator"] > rewards["adversarial"]["per_validator"]
    assert result["skill_weighted"]["excluded"]["careless"] >= 3
    # validators decide: few items reach the requester, and what validators decide is right
    assert result["escalated_share"] <= 0.1 and result["validator_accuracy"] >= 0.95


def test_the_simulation_is_reproducible_from_its_seed() -> None:
    simulate = benchmark_module().simulate

    first, again = (simulate(items=150, validators=20, seed=3, batch=50) for _ in range(2))

    assert {k: v for k, v in first.items() if k != "wall_s"} == {
        k: v for k, v in again.items() if k != "wall_s"
    }


def test_the_benchmark_prints_the_keys_the_issue_names(capsys: pytest.CaptureFixture[str]) -> None:
    benchmark_module().main(
        ["--json", "--items", "120", "--validators", "20", "--seeds", "2", "--batch", "60"]
    )

    result = json.loads(capsys.readouterr().out)
    for key in itertools.chain(
        ("majority_accuracy", "skill_weighted_accuracy", "votes_per_item", "majority_votes_per_item"),
        ("escalated_share", "validator_accuracy", "validator_reward_totals", "items", "validators"),
        ("careless", "adversarial"),
        ("seed", "wall_s", "median"),
    ):
        assert key in result
    assert result["median"]["seeds"] == 2
