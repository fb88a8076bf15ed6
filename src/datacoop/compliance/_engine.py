"""The decision: the first rule whose conditions all hold gives an item's outcome.

Rules are tried in the order the policy file lists them and the first match
wins, so a policy puts the narrow rules (non-personal data, missing consent,
volume thresholds) before the broad ones. No match is a deny: the engine fails
closed. A dataset is decided item by item; :func:`PolicyEngine.split` sorts
its items into what may be delivered and what is withheld, with reasons.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from datacoop.compliance._facts import Buyer, DataCategory, Decision, Exporter, Item, Outcome
from datacoop.compliance._policy import ANY, Conditions, Policy, Rule

__all__ = ["NO_MATCH", "PolicyEngine", "Split"]

NO_MATCH = "policy.no_match"
_DELIVERABLE = (Outcome.ALLOW, Outcome.ALLOW_ANONYMISED)
_Places = tuple[frozenset[str] | None, frozenset[str] | None, frozenset[str] | None]


class Split(NamedTuple):
    """A dataset sorted for one buyer; each item travels with the decision that placed it."""

    deliverable: list[tuple[Item, Decision]]  # allow, or allow_anonymised (anonymise before delivery)
    withheld: list[tuple[Item, Decision]]  # compute_to_data_only or deny, with the reason

    @property
    def to_anonymise(self) -> list[Item]:
        return [item for item, d in self.deliverable if d.outcome is Outcome.ALLOW_ANONYMISED]


class PolicyEngine:
    """Decides what a buyer may receive under one policy."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        groups = {name: frozenset(g.members) for name, g in policy.groups.items()}
        # Each rule's places resolved once to sets of codes (None: anywhere), so matching is a lookup.
        self._places: list[_Places] = [
            (_resolve(w.origin, groups), _resolve(w.destination, groups), _resolve(w.destination_not, groups))
            for w in (r.when for r in policy.rules)
        ]

    def decide(self, item: Item, buyer: Buyer, exporter: Exporter | None = None) -> Decision:
        """The decision for one item sent to ``buyer`` by ``exporter`` (default: a small, non-CIIO one)."""
        exporter = exporter or Exporter()
        for rule, places in zip(self.policy.rules, self._places, strict=True):
            if self._matches(rule.when, places, item, buyer, exporter):
                return self._decision(rule)
        return Decision(
            outcome=Outcome.DENY,
            rule=NO_MATCH,
            explanation=f"no rule of the policy covers {item.origin} → {buyer.jurisdiction} "
            f"for {item.category.value} data; the engine refuses what the policy does not allow",
            legal_basis="none (fail closed)",
            policy_version=self.policy.version,
        )

    def split(self, items: Iterable[Item], buyer: Buyer, exporter: Exporter | None = None) -> Split:
        """Each item with its own decision, sorted into deliverable and withheld (order kept)."""
        out = Split([], [])
        for item in items:
            decision = self.decide(item, buyer, exporter)
            (out.deliverable if decision.outcome in _DELIVERABLE else out.withheld).append((item, decision))
        return out

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.policy.rules if r.id == rule_id), None)

    def _decision(self, rule: Rule) -> Decision:
        return Decision(
            outcome=rule.decision,
            rule=rule.id,
            explanation=" ".join(rule.explanation.split()),
            legal_basis=rule.legal_basis,
            policy_version=self.policy.version,
        )

    @staticmethod
    def _matches(when: Conditions, places: _Places, item: Item, buyer: Buyer, exporter: Exporter) -> bool:
        origin, destination, destination_not = places
        # Origin and category rule most rules out: test them first, the rest together.
        if origin is not None and item.origin not in origin:
            return False
        if when.category is not None and item.category not in when.category:
            return False
        checks = (
            destination is None or buyer.jurisdiction in destination,
            when.destination_not is None
            or (destination_not is not None and buyer.jurisdiction not in destination_not),
            when.consent is None or item.consent in when.consent,
            when.purpose is None or buyer.purpose in when.purpose,
            when.safeguards_any is None or bool(buyer.safeguards.intersection(when.safeguards_any)),
            when.safeguards_none is None or not buyer.safeguards.intersection(when.safeguards_none),
            when.exporter_ciio is None or exporter.ciio == when.exporter_ciio,
            when.important_data_notified is None
            or (
                item.category is DataCategory.IMPORTANT_DATA
                and item.important_data_notified == when.important_data_notified
            ),
            when.personal_individuals is None
            or when.personal_individuals.contains(exporter.personal_individuals),
            when.sensitive_individuals is None
            or when.sensitive_individuals.contains(exporter.sensitive_individuals),
        )
        return all(checks)


def _resolve(places: list[str] | None, groups: dict[str, frozenset[str]]) -> frozenset[str] | None:
    """The country codes ``places`` names (codes and groups), or None for anywhere (left out, or "*")."""
    if places is None or ANY in places:
        return None
    return frozenset().union(*(groups.get(p, {p}) for p in places))
