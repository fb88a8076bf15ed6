"""The per-task relevance model, simulated: validator votes saved at equal final accuracy.

Usage: ``python benchmarks/task_model.py --json [--items 1000 --off-topic 0.3 --precision 0.98 --seed 0]``.
Prints one JSON object.

A text task ("home cooking recipes") whose items are generated texts: ``--off-topic`` of them about
other subjects (football, laptops, weather, car repair, ...), the rest recipes, worded from templates
with a seeded RNG; ``--hard`` of all items are ambiguous (terse recipes, which are acceptable;
restaurant reviews and food-shop adverts, which are not). Every item's features are its real MiniLM
embedding (the shipped model, as the relevance stage computes it). The validators and their latent
answers come from ``benchmarks/consensus.py`` (honest, careless, adversarial; skill-weighted
Dawid–Skene, k votes then one more while unsure, escalation at the cap), re-pointed at this truth.

The same items, validators and latent answers are reviewed twice in one run, with the same draw
seed: ``without`` the model, and ``with`` it: the model learns from every gold item and final
decision (escalated items: the requester's answer, the truth), and once it holds the requester's
precision (``--precision``) on held-out decisions at an end, items arriving at that end are decided
without votes. ``votes_saved_share`` = 1 - votes with / votes without (gold votes included).

Measured here (2 cores, another job running; 30 validators, 20 % careless, 10 % adversarial, 5 % hard):

=====  ====  ==================  ==================  =====  ===============
items  seed  votes/item without  votes/item with     saved  accuracy w/o→with
=====  ====  ==================  ==================  =====  ===============
1000   0     3.825               1.370               0.64   1.0 → 1.0
1000   1     3.937               1.313               0.67   0.990 → 0.999
1000   2     4.048               1.258               0.69   0.989 → 0.999
300    0     4.209               2.651               0.37   0.986 → 1.0
300    1     4.212               2.664               0.37   0.989 → 1.0
300    2     4.309               2.669               0.38   1.0 → 0.993
=====  ====  ==================  ==================  =====  ===============

Every auto-decision in these runs was right; the one loss (300 items, seed 2: two items) is two
items escalated at the vote cap whose best answer was wrong, the validators' noise on other draws.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from datacoop.review.task_model import End, TaskModel, expected_calibration_error


def _consensus() -> ModuleType:
    name = "consensus_benchmark"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("consensus.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


consensus = _consensus()

DISHES = (
    "lemon cake",
    "lentil soup",
    "banana bread",
    "chicken curry",
    "tomato risotto",
    "apple pie",
    "vegetable lasagne",
    "pancakes",
    "beef stew",
    "mushroom omelette",
    "pesto pasta",
    "fish tacos",
)
STEPS = (
    "whisk the eggs with the sugar",
    "chop the onions finely",
    "simmer for twenty minutes",
    "bake at 180 degrees for 35 minutes",
    "fold in the flour",
    "season with salt and pepper",
    "fry the garlic in olive oil",
    "stir in the stock a ladle at a time",
    "let the dough rest for an hour",
    "blend until smooth",
    "grate the cheese over the top",
    "roast the vegetables until golden",
)
OFF_TOPIC = {
    "football": (
        "The striker scored twice in the second half",
        "The referee showed a red card after the foul",
        "The club signed a new goalkeeper for the season",
        "Fans sang until the final whistle",
    ),
    "laptops": (
        "The laptop's battery lasts nine hours",
        "This model has a bright 14-inch screen",
        "The keyboard feels cramped but the trackpad is good",
        "It runs hot under heavy load",
    ),
    "weather": (
        "Heavy rain is expected across the north tomorrow",
        "Temperatures will drop below freezing",
        "A storm warning was issued for the coast",
        "The afternoon should stay dry and sunny",
    ),
    "cars": (
        "Replace the brake pads when they squeal",
        "Check the tyre pressure every month",
        "The engine light came on after the oil change",
        "The clutch slips in third gear",
    ),
    "travel": (
        "The train to the airport leaves every ten minutes",
        "Our hotel was close to the old town",
        "Book the museum tickets online to skip the queue",
        "The ferry crossing took three hours",
    ),
    "finance": (
        "Shares fell sharply after the earnings report",
        "The central bank kept rates unchanged",
        "Diversify your savings across several funds",
        "Inflation rose for the third month",
    ),
}
OPENERS = ("", "Today: ", "Note - ", "Quick one. ", "From my notebook: ", "Honestly, ")
PLACES = ("the corner bistro", "a diner downtown", "the new Italian place", "our hotel restaurant")


def recipe(rng: np.random.Generator) -> str:
    dish = DISHES[rng.integers(len(DISHES))]
    steps = [STEPS[i] for i in rng.choice(len(STEPS), int(rng.integers(2, 4)), replace=False)]
    serves = int(rng.integers(2, 7))
    opener = OPENERS[rng.integers(len(OPENERS))]
    return f"{opener}{dish.capitalize()} recipe: {', then '.join(steps)}. Serves {serves}."


def off_topic(rng: np.random.Generator) -> str:
    subject = list(OFF_TOPIC)[rng.integers(len(OFF_TOPIC))]
    lines = OFF_TOPIC[subject]
    picked = [lines[i] for i in rng.choice(len(lines), 2, replace=False)]
    return f"{OPENERS[rng.integers(len(OPENERS))]}{picked[0]}. {picked[1].lower()}."


def hard(rng: np.random.Generator) -> tuple[str, int]:
    """An ambiguous item and its truth: a terse recipe (acceptable) or food that is no recipe (not)."""
    dish = DISHES[rng.integers(len(DISHES))]
    kind = int(rng.integers(3))
    if kind == 0:
        return f"{dish}: {STEPS[rng.integers(len(STEPS))]}.", 1
    if kind == 1:
        place = PLACES[rng.integers(len(PLACES))]
        return f"We had the {dish} at {place}; it was {('bland', 'lovely', 'cold')[rng.integers(3)]}.", 0
    return f"Fresh {dish} delivered to your door, 20% off this week only!", 0


@dataclass(frozen=True)
class Items:
    texts: list[str]
    truth: npt.NDArray[np.int64]
    features: npt.NDArray[np.float32]
    hard: npt.NDArray[np.bool_]


def make_items(rng: np.random.Generator, n: int, off_share: float, hard_share: float) -> Items:
    texts, truth, difficult = [], [], []
    for _ in range(n):
        draw = rng.random()
        if draw < hard_share:
            text, label = hard(rng)
        elif draw < hard_share + off_share:
            text, label = off_topic(rng), 0
        else:
            text, label = recipe(rng), 1
        texts.append(text)
        truth.append(label)
        difficult.append(draw < hard_share)
    return Items(texts, np.asarray(truth, dtype=np.int64), embed(texts), np.asarray(difficult))


def embed(texts: list[str]) -> npt.NDArray[np.float32]:
    """Real MiniLM rows, each distinct text embedded once."""
    from datacoop.models.minilm import MiniLmTextEmbedder

    unique = sorted(set(texts))
    rows = MiniLmTextEmbedder().embed_texts(unique)
    index = {text: i for i, text in enumerate(unique)}
    return np.asarray(rows[[index[t] for t in texts]], dtype=np.float32)


def world_for(
    items: Items, rng: np.random.Generator, validators: int, careless: float, adversarial: float
) -> Any:
    """consensus.py's validators and their latent answers, re-pointed at these items' truth."""
    world = consensus.make_world(rng, len(items.truth), validators, careless, adversarial)
    right = world.answers == world.truth[:, None]  # which latent answers were right stays as drawn
    truth = items.truth
    answers = np.where(right, truth[:, None], 1 - truth[:, None]).astype(np.int64)
    for j, kind in enumerate(world.kinds):
        if kind in ("always_accept", "always_reject", "colluding"):
            answers[:, j] = {"always_accept": 1, "always_reject": 0}.get(kind, 1 - truth)
    return consensus.World(truth, world.gold, world.kinds, answers, world.arrival)


@dataclass
class ModelRun:
    """The review process with the task model in front: items it is sure of get no votes."""

    process: Any
    features: npt.NDArray[np.float32]
    precision: float | None
    model: TaskModel = field(default_factory=TaskModel)
    auto: dict[int, End] = field(default_factory=dict)
    learned: set[int] = field(default_factory=set)

    def run(self, batch: int, aggregate: Any) -> None:
        p, world = self.process, self.process.world
        arrivals = [list(world.arrival[s : s + batch]) for s in range(0, len(world.arrival), batch)]
        open_items: list[int] = []
        while arrivals or open_items:
            new = self._triage(arrivals.pop(0) if arrivals else [])
            exhausted = {i for i in open_items if not p.ask(i, 1)}
            for i in new:
                p.ask(i, p.k)
            still_open = []
            for item, (answer, decision) in aggregate(p, open_items + new).items():
                if decision is consensus.Decision.MORE_VOTES and item not in exhausted:
                    still_open.append(item)
                    continue
                p.final[item] = answer
                if decision is not consensus.Decision.FINAL:
                    p.escalated.add(item)
            open_items = still_open
            self._learn()

    def _triage(self, new: list[int]) -> list[int]:
        """Auto-decide what the model is sure of; the rest go to validators, likely off-topic first."""
        world, kept = self.process.world, []
        for i in new:
            decision = None if world.gold[i] else self.model.decide(self.features[i], self.precision)
            if decision is None:
                kept.append(i)
            else:
                self.auto[i] = decision.end
                self.process.final[i] = int(decision.end is End.ACCEPT)
        score = [self.model.probability(self.features[i]) for i in kept]
        return [i for _, i in sorted(zip([1.0 if s is None else s for s in score], kept, strict=True))]

    def _learn(self) -> None:
        """Gold answers and final decisions, each scored by the model before it learns it."""
        p, world = self.process, self.process.world
        for i in list(p.final):
            if i in self.learned or i in self.auto:
                continue
            label = int(world.truth[i]) if world.gold[i] or i in p.escalated else p.final[i]
            self.model.learn(self.features[i], label, refit=False)
            self.learned.add(i)
        self.model.fit()


def summary(p: Any) -> dict[str, float]:
    out = consensus.outcome(p)
    return {
        "votes_per_item": round(out.votes_per_item, 3),
        "accuracy": round(out.accuracy, 4),
        "escalated_share": round(out.escalated_share, 4),
    }


def simulate(
    items: int = 1000,
    off_topic_share: float = 0.3,
    *,
    hard_share: float = 0.05,
    validators: int = 30,
    careless: float = 0.2,
    adversarial: float = 0.1,
    precision: float | None = 0.98,
    seed: int = 0,
    batch: int = 50,
    threshold: float = 0.98,
    max_votes: int = 7,
    k: int = 3,
    floor: float = 0.7,
    min_gold: int = 3,
) -> dict[str, object]:
    """Review one generated task without and with its model; return the benchmark's JSON object."""
    start = time.perf_counter()
    made = make_items(np.random.default_rng([seed, 7]), items, off_topic_share, hard_share)
    world = world_for(made, np.random.default_rng(seed), validators, careless, adversarial)
    aggregate = consensus.skill_weighted(threshold, floor, min_gold)
    without = consensus.Process(world, np.random.default_rng([seed, 1]), k, max_votes)
    without.run(batch, aggregate)
    run = ModelRun(
        consensus.Process(world, np.random.default_rng([seed, 1]), k, max_votes), made.features, precision
    )
    run.run(batch, consensus.skill_weighted(threshold, floor, min_gold))
    before, after = summary(without), summary(run.process)
    auto = list(run.auto)
    return {
        "without": before,
        "with": after,
        "votes_saved_share": round(1 - after["votes_per_item"] / before["votes_per_item"], 4),
        "auto_decided_share": round(len(auto) / int((~world.gold).sum()), 4),
        "auto_decided": {end.value: sum(1 for e in run.auto.values() if e is end) for end in End},
        "auto_accuracy": round(float(np.mean([run.process.final[i] == world.truth[i] for i in auto])), 4)
        if auto
        else None,
        "held_out_calibration_error": round(expected_calibration_error(run.model.held_out()), 4),
        "items": items,
        "off_topic": off_topic_share,
        "hard": hard_share,
        "validators": validators,
        "careless": careless,
        "adversarial": adversarial,
        "precision": precision,
        "seed": seed,
        "wall_s": round(time.perf_counter() - start, 3),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add = parser.add_argument
    add("--json", action="store_true", help="print one JSON object (the only output form)")
    add("--items", type=int, default=1000, help="items to review, gold included")
    add("--off-topic", type=float, default=0.3, help="share of items about another subject")
    add("--hard", type=float, default=0.05, help="share of ambiguous items")
    add("--validators", type=int, default=30)
    add("--careless", type=float, default=0.2)
    add("--adversarial", type=float, default=0.1)
    add("--precision", type=float, default=0.98, help="the requester's auto_decide_precision")
    add("--seed", type=int, default=0)
    add("--batch", type=int, default=50, help="items arriving per round")
    args = parser.parse_args(argv)
    result = simulate(
        args.items,
        args.off_topic,
        hard_share=args.hard,
        validators=args.validators,
        careless=args.careless,
        adversarial=args.adversarial,
        precision=args.precision,
        seed=args.seed,
        batch=args.batch,
    )
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
