"""Policy files: bad ones are refused with an error naming the field; good ones round-trip through YAML."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from datacoop.compliance import (
    NO_MATCH,
    Buyer,
    DataCategory,
    Item,
    Outcome,
    PolicyEngine,
    dump_policy,
    load_policy,
    parse_policy,
)
from datacoop.errors import InvalidInput, NotFound

RULE = {"id": "r1", "decision": "allow", "explanation": "x", "legal_basis": "y"}


def _policy(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"version": "t/1", "reviewed": "2026-01-01", "rules": [dict(RULE)]}
    return {**base, **changes}


def _refused(data: Any) -> InvalidInput:
    text = data if isinstance(data, str) else yaml.safe_dump(data)
    with pytest.raises(InvalidInput) as caught:
        parse_policy(text, source="test.yaml")
    return caught.value


@pytest.mark.parametrize(
    ("data", "field", "says"),
    [
        ("rules: [", "compliance_policy", "not valid YAML"),
        ("- just\n- a list\n", "policy", "must hold a mapping"),
        ({"version": "t", "rules": [RULE]}, "reviewed", "Field required"),
        (_policy(rules=[]), "rules", "at least 1 item"),
        (_policy(rules=[{**RULE, "decision": "permit"}]), "rules[0].decision", "'allow'"),
        (_policy(rules=[{**RULE, "when": {"destinaton": ["US"]}}]), "rules[0].when.destinaton",
         "Extra inputs"),
        (_policy(rules=[{**RULE, "when": {"safeguards_any": ["sccs"]}}]), "rules[0].when.safeguards_any[0]",
         "'scc'"),
        (_policy(rules=[{**RULE, "when": {"category": ["secret"]}}]), "rules[0].when.category[0]",
         "personal"),
        (_policy(rules=[{**RULE, "explanation": ""}]), "rules[0].explanation", "at least 1 character"),
        (_policy(rules=[{**RULE, "id": "Bad Id"}]), "rules[0].id", "pattern"),
        (_policy(rules=[RULE, RULE]), "policy", "rule id 'r1' is used twice"),
        (_policy(rules=[{**RULE, "when": {"destination": ["FOOBAR"]}}]), "policy",
         "rules[0] (r1).when.destination: 'FOOBAR' is not an ISO 3166-1 alpha-2 country code nor a group"),
        (_policy(rules=[{**RULE, "when": {"origin": ["UK"]}}]), "policy", "'UK' is not an ISO 3166-1"),
        (_policy(groups={"EEA": {"members": ["DE", "XX"]}}), "groups.EEA.members",
         "'XX' is not an ISO 3166-1"),
        (_policy(groups={"EU": {"members": ["DE"]}}), "groups", "two letters is a country code"),
        (_policy(rules=[{**RULE, "when": {"personal_individuals": {"at_least": 10, "below": 5}}}]),
         "rules[0].when.personal_individuals", "at_least (10) must be smaller than below (5)"),
        (_policy(rules=[{**RULE, "when": {"personal_individuals": {}}}]),
         "rules[0].when.personal_individuals", "give at_least, below or both"),
        (_policy(rules=[{**RULE, "when": {"sensitive_individuals": {"at_least": -1}}}]),
         "rules[0].when.sensitive_individuals.at_least", "greater than or equal to 0"),
    ],
)  # fmt: skip
def test_bad_policy_is_refused_naming_the_field(data: Any, field: str, says: str) -> None:
    error = _refused(data)
    assert error.field == field
    assert says in error.message
    assert "test.yaml" in error.message


def test_unquoted_norway_gets_a_hint() -> None:
    text = (
        "version: t\nreviewed: 2026-01-01\ngroups:\n  NORDIC: {members: [SE, NO]}\nrules:\n"
        + yaml.safe_dump([RULE])
    )
    error = _refused(text)
    assert error.field == "groups.NORDIC.members" and "quote country codes such as 'NO'" in error.message


def test_many_errors_are_counted_not_all_printed() -> None:
    rules = [{"id": f"r{i}", "decision": "nope", "explanation": "x", "legal_basis": "y"} for i in range(8)]
    assert "(and 3 more)" in _refused(_policy(rules=rules)).message


def test_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound) as caught:
        load_policy(tmp_path / "nope.yaml")
    assert caught.value.field == "compliance_policy"


def test_the_shipped_yaml_round_trips() -> None:
    # Prepare
    shipped = load_policy()
    # Execute
    text = dump_policy(shipped)
    again = parse_policy(text)
    # Assert: equal policy, stable text, and the same as the YAML as written
    assert again == shipped
    assert dump_policy(again) == text
    raw = resources.files("datacoop.compliance").joinpath("policies", "default.yaml").read_text("utf-8")
    assert yaml.safe_load(text)["rules"][0]["id"] == yaml.safe_load(raw)["rules"][0]["id"]
    assert "'NO'" in text  # the dumper quotes Norway so that YAML does not read false


def test_an_operator_policy_file_is_used(tmp_path: Path) -> None:
    # Prepare: one rule that denies everything sent to KP, nothing else
    path = tmp_path / "ops.yaml"
    rule = {**RULE, "id": "ops.kp", "decision": "deny", "when": {"destination": ["KP"]}}
    path.write_text(yaml.safe_dump(_policy(rules=[rule])))
    engine = PolicyEngine(load_policy(path))
    item = Item("i", "FR", DataCategory.NON_PERSONAL)
    # Execute
    to_kp, to_us = engine.decide(item, Buyer("KP")), engine.decide(item, Buyer("US"))
    # Assert: the rule, then fail-closed where no rule matches
    assert (to_kp.outcome, to_kp.rule) == (Outcome.DENY, "ops.kp")
    assert (to_us.outcome, to_us.rule) == (Outcome.DENY, NO_MATCH)
    assert "FR → US" in to_us.explanation


def test_settings_point_the_node_at_an_operator_policy(tmp_path: Path) -> None:
    from datacoop.app import build_node
    from datacoop.settings import Settings

    # Prepare
    path = tmp_path / "ops.yaml"
    path.write_text(yaml.safe_dump(_policy(version="ops/7")))
    settings = Settings(data_dir=tmp_path / "node", chain="off", dev_accounts=0, compliance_policy=path)
    # Execute
    node = build_node(settings, with_chain=False, check_stages=False)
    node.close()
    # Assert: the operator's file, and a missing one stops the node at start
    assert node.compliance.policy.version == "ops/7"
    with pytest.raises(NotFound):
        build_node(
            settings.model_copy(update={"compliance_policy": tmp_path / "gone.yaml"}),
            with_chain=False,
            check_stages=False,
        )


def test_purpose_destination_not_and_any_conditions() -> None:
    # Prepare: research leaves the EEA group only as compute-to-data; destination_not "*" never matches
    rules = [
        {**RULE, "id": "research.eea", "decision": "compute_to_data_only",
         "when": {"origin": ["*"], "purpose": ["Research"], "destination_not": ["EEA"]}},
        {**RULE, "id": "research", "when": {"purpose": ["research"]}},
        {**RULE, "id": "never", "when": {"destination_not": ["*"]}},
        {**RULE, "id": "rest", "decision": "deny"},
    ]  # fmt: skip
    engine = PolicyEngine(parse_policy(yaml.safe_dump(_policy(groups={"EEA": {"members": ["DE", "FR"]}},
                                                              rules=rules))))  # fmt: skip
    item = Item("i", "KE", DataCategory.PERSONAL)
    # Execute / Assert
    assert engine.decide(item, Buyer("US", "research")).rule == "research.eea"
    assert engine.decide(item, Buyer("DE", "research")).rule == "research"
    assert engine.decide(item, Buyer("DE", "training")).rule == "rest"
