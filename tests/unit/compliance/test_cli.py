"""`datacoop policy check` and `datacoop policy show` through a Typer app made with register()."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from datacoop.cli import policy as policy_cli


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """Stands in for the datacoop app (a group, as there)."""

    policy_cli.register(app)
    return app


CN_TO_US = ["policy", "check", "--origin", "CN", "--category", "personal", "--buyer", "US",
            "--purpose", "training", "--consent", "separate", "--safeguard", "pipia"]  # fmt: skip


def test_check_prints_decision_rule_and_legal_basis(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, [*CN_TO_US, "--personal-count", "250000"])
    assert result.exit_code == 0, result.output
    assert "decision:    compute_to_data_only" in result.stdout
    assert "rule:        cn.personal.needs_contract" in result.stdout
    assert "legal basis: PIPL Art. 38(1); 2024 Provisions Art. 8" in result.stdout


def test_check_with_the_standard_contract_as_json(app: typer.Typer) -> None:
    args = [*CN_TO_US, "--safeguard", "cac_standard_contract", "--personal-count", "250000", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    decision = json.loads(result.stdout)
    assert (decision["outcome"], decision["rule"]) == ("allow", "cn.personal.contract")


def test_check_refuses_a_bad_country_with_a_hint(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["policy", "check", "--origin", "UK", "--buyer", "US"])
    assert result.exit_code == 2
    assert "error [origin]:" in result.stderr and "Did you mean 'GB'?" in result.stderr


def test_show_lists_rules_in_order_and_dumps_yaml(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["policy", "show"])
    assert result.exit_code == 0, result.output
    assert "reviewed 2026-11-23" in result.stdout
    lines = result.stdout.splitlines()
    first = next(i for i, line in enumerate(lines) if "eu.non_personal" in line)
    last = next(i for i, line in enumerate(lines) if "default.consented" in line)
    assert first < last
    dumped = CliRunner().invoke(app, ["policy", "show", "--yaml"])
    assert dumped.exit_code == 0 and dumped.stdout.startswith("version: datacoop-default/")


def test_show_a_bad_policy_file_names_the_field(app: typer.Typer, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: v\nreviewed: 2026-01-01\nrules:\n  - {id: a, decision: permit}\n")
    result = CliRunner().invoke(app, ["policy", "show", "--policy", str(bad)])
    assert result.exit_code == 2
    assert "error [rules[0].decision]:" in result.stderr
