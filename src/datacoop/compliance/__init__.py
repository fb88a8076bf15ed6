"""The compliance policy engine: may this buyer receive this item, and under which rule and law?

The policy is data (YAML) an operator reads and changes; DataCoop ships a
default in ``policies/default.yaml`` and ``Settings.compliance_policy`` points
at another. See ``docs/compliance.md`` for every default rule and its source.
"""

from datacoop.compliance._engine import NO_MATCH, PolicyEngine, Split
from datacoop.compliance._facts import (
    Buyer,
    ConsentScope,
    DataCategory,
    Decision,
    Exporter,
    Item,
    Outcome,
    Safeguard,
    most_restrictive,
)
from datacoop.compliance._loader import DEFAULT_POLICY, dump_policy, load_policy, parse_policy
from datacoop.compliance._policy import Conditions, Group, Policy, Range, Rule

__all__ = [
    "DEFAULT_POLICY",
    "NO_MATCH",
    "Buyer",
    "Conditions",
    "ConsentScope",
    "DataCategory",
    "Decision",
    "Exporter",
    "Group",
    "Item",
    "Outcome",
    "Policy",
    "PolicyEngine",
    "Range",
    "Rule",
    "Safeguard",
    "Split",
    "dump_policy",
    "load_policy",
    "most_restrictive",
    "parse_policy",
]
