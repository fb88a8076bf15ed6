"""Community review, simulated: accuracy and votes per item of majority vote against Dawid–Skene.

Usage: ``python benchmarks/consensus.py --json [--items 2000 --validators 50 --careless 0.3
--adversarial 0.2 --seed 0]``. Prints one JSON object.

A synthetic task with known truth (``--accept-rate`` of items truly acceptable) and ``--gold-rate`` of
gold items mixed in. Validators are honest (accuracy drawn from Beta(27, 3), mean 0.9), careless
(accuracy 0.6) or adversarial (split into always-accept, always-reject and a colluding ring that votes
together against the truth). Items arrive in batches and go through the process the review service runs:
``k`` votes from distinct validators drawn by reputation, aggregation, one more vote for every item that
is not final, up to ``--max-votes``, then escalation to the requester. The skill-weighted run aggregates
with :func:`dawid_skene` (gold clamped) and excludes validators whose skill falls below ``--floor`` once
they have answered ``--min-gold`` gold items; the majority run draws uniformly and calls an item final
when its leading answer is ``--margin`` votes ahead. Both runs see the same latent answers (what
each validator would say on each item), so they differ only in whom they ask and how they decide.

Accuracy counts non-gold items by their final answer; an escalated item counts by the model's best answer
at the vote cap, so escalation hides no errors; ``validator_accuracy`` counts only the items validators
decided (not escalated), the share ``escalated_share`` leaves to the requester. ``votes_per_item`` is
every vote cast (gold included) divided by the non-gold items. Rewards: one unit per useful vote
(agreeing with the final or gold answer), totalled per validator class. Validators the model finds
unskilled are rarely drawn (weight = skill), so adversaries may be starved of work before they answer
``--min-gold`` gold items and are formally excluded.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import cast

import numpy as np
import numpy.typing as npt

from datacoop.review.consensus import Decision, Vote, dawid_skene, decide, majority

CLASSES = ("honest", "careless", "always_accept", "always_reject", "colluding")
Ints = npt.NDArray[np.int64]
Aggregator = Callable[["Process", list[int]], dict[int, tuple[int, Decision]]]


@dataclass(frozen=True)
class World:
    """The truth, the gold items, and what each validator would answer on each item."""

    truth: Ints  # per item: 1 = acceptable
    gold: npt.NDArray[np.bool_]
    kinds: tuple[str, ...]  # per validator, one of CLASSES
    answers: Ints  # (items, validators)
    arrival: Ints  # item order of arrival


def make_world(
    rng: np.random.Generator,
    items: int,
    validators: int,
    careless: float,
    adversarial: float,
    *,
    accept_rate: float = 0.65,
    gold_rate: float = 0.1,
    careless_accuracy: float = 0.6,
) -> World:
    truth = (rng.random(items) < accept_rate).astype(np.int64)
    gold = rng.random(items) < gold_rate
    n_careless, n_adversarial = round(careless * validators), round(adversarial * validators)
    n_honest = validators - n_careless - n_adversarial
    if n_honest < 3:
        raise SystemExit(f"need at least 3 honest validators, the mix leaves {n_honest}")
    n_accept = n_reject = n_adversarial // 3
    kinds = (
        ("honest",) * n_honest
        + ("careless",) * n_careless
        + ("always_accept",) * n_accept
        + ("always_reject",) * n_reject
        + ("colluding",) * (n_adversarial - n_accept - n_reject)
    )
    accuracy = np.where(np.array(kinds) == "careless", careless_accuracy, rng.beta(27, 3, validators))
    right = rng.random((items, validators)) < accuracy
    answers = np.where(right, truth[:, None], 1 - truth[:, None]).astype(np.int64)
    for j, kind in enumerate(kinds):
        if kind == "always_accept":
            answers[:, j] = 1
        elif kind == "always_reject":
            answers[:, j] = 0
        elif kind == "colluding":
            answers[:, j] = 1 - truth
    return World(truth, gold, kinds, answers, rng.permutation(items).astype(np.int64))


@dataclass
class Process:
    """One run of the adaptive review process; ``aggregate`` returns (best answer, decision) per open item."""

    world: World
    rng: np.random.Generator
    k: int
    max_votes: int
    voted: list[set[int]] = field(default_factory=list)
    votes: list[Vote] = field(default_factory=list)
    final: dict[int, int] = field(default_factory=dict)
    escalated: set[int] = field(default_factory=set)
    weights: npt.NDArray[np.float64] = field(default_factory=lambda: np.empty(0))

    def __post_init__(self) -> None:
        self.voted = [set() for _ in self.world.truth]
        self.weights = np.ones(len(self.world.kinds))

    def ask(self, item: int, n: int) -> int:
        """Draw up to n distinct validators for the item, weighted by reputation; return how many voted."""
        eligible = self.weights.copy()
        eligible[list(self.voted[item])] = 0.0
        n = min(n, int(np.count_nonzero(eligible)))
        if n == 0:
            return 0
        for j in self.rng.choice(len(eligible), n, replace=False, p=eligible / eligible.sum()):
            self.voted[item].add(int(j))
            self.votes.append(Vote(item, int(j), int(self.world.answers[item, j])))
        return n

    def run(self, batch: int, aggregate: Aggregator) -> None:
        arrivals = [list(self.world.arrival[s : s + batch]) for s in range(0, len(self.world.arrival), batch)]
        open_items: list[int] = []
        while arrivals or open_items:
            new = arrivals.pop(0) if arrivals else []
            exhausted = {i for i in open_items if not self.ask(i, 1)}  # nobody eligible is left to ask
            for i in new:
                self.ask(i, self.k)
            still_open = []
            for item, (answer, decision) in aggregate(self, open_items + new).items():
                if decision is Decision.MORE_VOTES and item not in exhausted:
                    still_open.append(item)
                    continue
                self.final[item] = answer
                if decision is not Decision.FINAL:
                    self.escalated.add(item)
            open_items = still_open


def skill_weighted(threshold: float, floor: float, min_gold: int) -> Aggregator:
    def aggregate(p: Process, open_items: list[int]) -> dict[int, tuple[int, Decision]]:
        gold = {int(i): int(p.world.truth[i]) for i in np.flatnonzero(p.world.gold) if p.voted[i]}
        result = dawid_skene(p.votes, gold=gold)
        gold_answers = np.zeros(len(p.weights))
        for vote in p.votes:
            gold_answers[cast(int, vote.validator)] += p.world.gold[cast(int, vote.item)]
        for j in np.flatnonzero(p.weights):  # exclusion is for good: an excluded validator gets no more work
            skill = result.skill.get(int(j))
            if skill is not None:
                out = gold_answers[j] >= min_gold and skill < floor
                p.weights[j] = 0.0 if out else max(skill, 0.05)
        return {
            i: (result.items[i].answer, decide(result.items[i], threshold=threshold, max_votes=p.max_votes))
            for i in open_items
        }

    return aggregate


def majority_margin(margin: int) -> Aggregator:
    def aggregate(p: Process, open_items: list[int]) -> dict[int, tuple[int, Decision]]:
        decisions = {}
        for i in open_items:
            accepts = sum(int(p.world.answers[i, j]) for j in p.voted[i])
            rejects = len(p.voted[i]) - accepts
            answer = int(accepts > rejects)  # a tie goes to reject, as in majority()
            if p.world.gold[i] or abs(accepts - rejects) >= margin:
                decision = Decision.FINAL
            else:
                decision = Decision.MORE_VOTES if len(p.voted[i]) < p.max_votes else Decision.ESCALATE
            decisions[i] = (answer, decision)
        return decisions

    return aggregate


@dataclass(frozen=True)
class Outcome:
    accuracy: float  # non-gold items, final (or best-at-cap) answer against the truth
    validator_accuracy: float  # the non-gold items validators decided (not escalated), against the truth
    votes_per_item: float  # every vote cast, gold included, per non-gold item
    real_votes_per_item: float  # votes on non-gold items only
    escalated_share: float
    rewards: dict[
        str, dict[str, float]
    ]  # per validator class: validators, votes, useful votes (paid), per validator
    excluded: dict[str, int]  # per validator kind


def outcome(p: Process) -> Outcome:
    world = p.world
    real = [i for i in range(len(world.truth)) if not world.gold[i]]
    useful, cast_votes = dict.fromkeys(CLASSES, 0), dict.fromkeys(CLASSES, 0)
    for vote in p.votes:
        item, validator = cast(int, vote.item), cast(int, vote.validator)
        expected = int(world.truth[item]) if world.gold[item] else p.final[item]
        useful[world.kinds[validator]] += int(vote.answer == expected)
        cast_votes[world.kinds[validator]] += 1
    groups = {"honest": ("honest",), "careless": ("careless",), "adversarial": CLASSES[2:]}
    rewards = {}
    for group, kinds in groups.items():
        members, total = sum(world.kinds.count(k) for k in kinds), sum(useful[k] for k in kinds)
        rewards[group] = {
            "validators": members,
            "votes": sum(cast_votes[k] for k in kinds),
            "useful_votes": total,
            "per_validator": round(total / max(members, 1), 2),
        }
    excluded = np.flatnonzero(p.weights == 0).tolist()
    by_validators = [i for i in real if i not in p.escalated]
    return Outcome(
        accuracy=sum(p.final[i] == int(world.truth[i]) for i in real) / len(real),
        validator_accuracy=sum(p.final[i] == int(world.truth[i]) for i in by_validators)
        / max(len(by_validators), 1),
        votes_per_item=len(p.votes) / len(real),
        real_votes_per_item=sum(not world.gold[cast(int, v.item)] for v in p.votes) / len(real),
        escalated_share=sum(i in p.escalated for i in real) / len(real),
        rewards=rewards,
        excluded={kind: sum(1 for j in excluded if world.kinds[j] == kind) for kind in CLASSES},
    )


def same_votes_majority_accuracy(p: Process) -> float:
    """Plain majority over exactly the votes the skill-weighted run gathered."""
    answers = majority(p.votes).items
    real = [i for i in range(len(p.world.truth)) if not p.world.gold[i]]
    return sum(answers[i].answer == int(p.world.truth[i]) for i in real) / len(real)


def simulate(
    items: int = 2000,
    validators: int = 50,
    careless: float = 0.3,
    adversarial: float = 0.2,
    *,
    seed: int = 0,
    threshold: float = 0.98,
    max_votes: int = 7,
    k: int = 3,
    batch: int = 100,
    floor: float = 0.7,
    min_gold: int = 5,
    margin: int = 2,
    gold_rate: float = 0.1,
) -> dict[str, object]:
    """Run both processes on one synthetic world and return the benchmark's JSON object."""
    start = time.perf_counter()
    world = make_world(
        np.random.default_rng(seed), items, validators, careless, adversarial, gold_rate=gold_rate
    )
    ds = Process(world, np.random.default_rng([seed, 1]), k, max_votes)
    ds.run(batch, skill_weighted(threshold, floor, min_gold))
    mv = Process(world, np.random.default_rng([seed, 2]), k, max_votes)
    mv.run(batch, majority_margin(margin))
    weighted, plain = outcome(ds), outcome(mv)
    return {
        "majority_accuracy": round(plain.accuracy, 4),
        "skill_weighted_accuracy": round(weighted.accuracy, 4),
        "validator_accuracy": round(weighted.validator_accuracy, 4),
        "votes_per_item": round(weighted.votes_per_item, 3),
        "majority_votes_per_item": round(plain.votes_per_item, 3),
        "escalated_share": round(weighted.escalated_share, 4),
        "majority_escalated_share": round(plain.escalated_share, 4),
        "majority_same_votes_accuracy": round(same_votes_majority_accuracy(ds), 4),
        "validator_reward_totals": weighted.rewards,
        "majority_validator_reward_totals": plain.rewards,
        "skill_weighted": asdict(weighted),
        "majority": asdict(plain),
        "items": items,
        "gold_items": int(world.gold.sum()),
        "validators": validators,
        "careless": careless,
        "adversarial": adversarial,
        "seed": seed,
        "threshold": threshold,
        "max_votes": max_votes,
        "k": k,
        "floor": floor,
        "min_gold": min_gold,
        "majority_margin": margin,
        "wall_s": round(time.perf_counter() - start, 3),
    }


def medians(runs: list[dict[str, object]], keys: Sequence[str]) -> dict[str, float]:
    values = {key: [r[key] for r in runs] for key in keys}
    return {key: statistics.median(v for v in vs if isinstance(v, int | float)) for key, vs in values.items()}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add = parser.add_argument
    add("--json", action="store_true", help="print one JSON object (the only output form)")
    add("--items", type=int, default=2000, help="items to review, gold included")
    add("--validators", type=int, default=50)
    add("--careless", type=float, default=0.3, help="share of careless validators (accuracy 0.6)")
    add("--adversarial", type=float, default=0.2, help="share of adversarial validators")
    add("--seed", type=int, default=0)
    add("--seeds", type=int, default=1, help="also run seed+1..seed+n-1 and report medians under 'median'")
    add("--threshold", type=float, default=0.98, help="posterior at which an item is final")
    add("--max-votes", type=int, default=7, help="votes an item gets at most before it is escalated")
    add("--k", type=int, default=3, help="votes every item starts with")
    add("--batch", type=int, default=100, help="items arriving per round")
    add("--floor", type=float, default=0.7, help="skill below which a validator is excluded")
    add("--min-gold", type=int, default=5, help="gold answers a validator gives before exclusion applies")
    add("--margin", type=int, default=2, help="majority run: lead in votes at which an item is final")
    add("--gold-rate", type=float, default=0.1, help="share of gold items mixed in")
    args = vars(parser.parse_args(argv))
    args.pop("json")
    first, n_seeds = args.pop("seed"), args.pop("seeds")
    sizes = [args.pop(name) for name in ("items", "validators", "careless", "adversarial")]
    runs = [simulate(*sizes, seed=first + s, **args) for s in range(n_seeds)]
    result = runs[0]
    if n_seeds > 1:
        keys = ("majority_accuracy", "skill_weighted_accuracy", "votes_per_item", "majority_votes_per_item")
        result["median"] = {"seeds": n_seeds, **medians(runs, (*keys, "escalated_share"))}
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
