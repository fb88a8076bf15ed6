"""docs/compliance.md documents every rule of the default policy, its legal basis, version and review date."""

from __future__ import annotations

from pathlib import Path

from datacoop.compliance import PolicyEngine

DOC = Path(__file__).resolve().parents[3] / "docs" / "compliance.md"


def test_every_default_rule_is_documented_with_its_legal_basis(engine: PolicyEngine) -> None:
    lines = DOC.read_text("utf-8").splitlines()
    for rule in engine.policy.rules:
        row = next((line for line in lines if f"| `{rule.id}` |" in line), None)
        assert row is not None, f"docs/compliance.md has no row for rule {rule.id}"
        assert f"| {rule.decision.value} |" in row and rule.legal_basis in row, row


def test_the_doc_names_the_version_and_review_date(engine: PolicyEngine) -> None:
    text = DOC.read_text("utf-8")
    assert f"`{engine.policy.version}`" in text
    assert engine.policy.reviewed.isoformat() in text
    for group in engine.policy.groups:
        assert f"`{group}`" in text
