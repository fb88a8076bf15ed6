"""A mixed dataset: each item gets its own decision; the dataset splits into deliverable and withheld."""

from __future__ import annotations

from datacoop.compliance import (
    Buyer,
    ConsentScope,
    DataCategory,
    Exporter,
    Item,
    Outcome,
    PolicyEngine,
    most_restrictive,
)

P, S, NP = DataCategory.PERSONAL, DataCategory.SENSITIVE_PERSONAL, DataCategory.NON_PERSONAL


def test_mixed_dataset_splits_item_by_item(engine: PolicyEngine) -> None:
    # Prepare: a US buyer with SCCs; the exporter has a PIPIA and no CAC filing
    items = [
        Item("fr-photo", "FR", P, ConsentScope.GENERAL),  # SCC: allow
        Item("fr-sensor", "FR", NP),  # non-personal: allow
        Item("cn-voice", "CN", P, ConsentScope.SEPARATE),  # < 100k: allow
        Item("cn-health", "CN", S, ConsentScope.SEPARATE),  # sensitive, no standard contract: withheld
        Item("cn-no-separate", "CN", P, ConsentScope.GENERAL),  # anonymise first
        Item("in-text", "IN", P, ConsentScope.GENERAL),  # allow
        Item("ke-anon", "KE", P, ConsentScope.NONE),  # anonymise first
    ]
    buyer = Buyer("US", "training", frozenset({"scc", "pipia"}))
    exporter = Exporter(personal_individuals=20_000, sensitive_individuals=300)
    # Execute
    deliverable, withheld = engine.split(items, buyer, exporter)
    # Assert
    keys = ["fr-photo", "fr-sensor", "cn-voice", "cn-no-separate", "in-text", "ke-anon"]
    assert [i.key for i, _ in deliverable] == keys
    assert [(i.key, d.outcome, d.rule) for i, d in withheld] == [
        ("cn-health", Outcome.COMPUTE_TO_DATA_ONLY, "cn.sensitive.needs_contract")
    ]
    assert "standard contract" in withheld[0][1].explanation
    split = engine.split(items, buyer, exporter)
    assert [i.key for i in split.to_anonymise] == ["cn-no-separate", "ke-anon"]
    worst = most_restrictive(d for _, d in split.deliverable + split.withheld)
    assert worst is not None and worst.rule == "cn.sensitive.needs_contract"


def test_the_same_dataset_to_an_adequate_country_with_a_contract_goes_whole(engine: PolicyEngine) -> None:
    items = [Item("a", "DE", P, ConsentScope.EXPLICIT_TRANSFER), Item("b", "CN", S, ConsentScope.SEPARATE)]
    buyer = Buyer("JP", safeguards=frozenset({"pipia", "cac_standard_contract"}))
    split = engine.split(items, buyer, Exporter(sensitive_individuals=1))
    assert split.withheld == [] and [d.rule for _, d in split.deliverable] == [
        "eu.adequacy",
        "cn.sensitive.contract",
    ]


def test_an_empty_dataset_splits_into_nothing(engine: PolicyEngine) -> None:
    assert engine.split([], Buyer("US")) == ([], [])
    assert most_restrictive([]) is None
