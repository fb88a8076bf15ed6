"""Decision inputs are checked where they are made: a bad value names its field and what is allowed."""

from __future__ import annotations

import pytest

from datacoop.compliance import Buyer, DataCategory, Exporter, Item, Outcome, Safeguard
from datacoop.errors import InvalidInput


def test_inputs_are_normalised() -> None:
    item = Item("k", " fr ", "personal", "separate")  # type: ignore[arg-type]
    buyer = Buyer("us", " Training ", frozenset({"scc"}))  # type: ignore[arg-type]
    assert (item.origin, item.category, item.consent.value) == ("FR", DataCategory.PERSONAL, "separate")
    assert (buyer.jurisdiction, buyer.purpose, buyer.safeguards) == ("US", "training", {Safeguard.SCC})


@pytest.mark.parametrize(
    ("make", "field", "says"),
    [
        (lambda: Item("k", "UK", DataCategory.PERSONAL), "origin", "Did you mean 'GB'?"),
        (lambda: Item("k", "FR", "persnal"), "category", "Did you mean 'personal'?"),
        (lambda: Item("k", "FR", "personal", "seperate"), "consent", "Did you mean 'separate'?"),
        (lambda: Buyer("Germany"), "buyer", "Did you mean 'DE'"),
        (lambda: Buyer("US", "  "), "purpose", "must not be empty"),
        (lambda: Buyer("US", safeguards=frozenset({"sccs"})), "safeguards", "Did you mean 'scc'?"),
        (lambda: Exporter(personal_individuals=-1), "personal_individuals", "0 or more"),
    ],
)
def test_bad_input_names_the_field(make: object, field: str, says: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        make()  # type: ignore[operator]
    assert caught.value.field == field and says in caught.value.message


def test_outcomes_are_ordered_from_most_permissive() -> None:
    assert [o.rank for o in Outcome] == [0, 1, 2, 3]
    assert Outcome.DENY.rank > Outcome.COMPUTE_TO_DATA_ONLY.rank > Outcome.ALLOW_ANONYMISED.rank
