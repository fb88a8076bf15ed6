"""`datacoop merkle build` through a Typer app made with the module's register()."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from eth_utils.address import to_checksum_address
from tests.unit.merkle.conftest import numbered
from typer.testing import CliRunner

from datacoop import merkle
from datacoop.cli import merkle as merkle_cli

ALICE = "0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359"


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """Stands in for the datacoop app (a group, as there)."""

    merkle_cli.register(app)
    return app


def test_build_prints_root_and_proofs_keyed_by_checksum_address(app: typer.Typer, tmp_path: Path) -> None:
    # Prepare
    values = [*numbered(3), (ALICE, 5 * 10**18)]
    source = tmp_path / "values.json"
    source.write_text(json.dumps([[a, str(x)] for a, x in values[:2]] + [[a, x] for a, x in values[2:]]))
    # Execute
    result = CliRunner().invoke(app, ["merkle", "build", str(source), "--dump", str(tmp_path / "dump.json")])
    # Assert
    assert result.exit_code == 0, result.output
    tree = merkle.build(values)
    printed = json.loads(result.stdout)
    assert printed["root"] == tree.root
    assert printed["proofs"] == {to_checksum_address(a): tree.proof(i) for i, (a, _x) in enumerate(values)}
    assert json.loads((tmp_path / "dump.json").read_text()) == tree.dump()


def test_build_reads_stdin(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["merkle", "build", "-"], input=json.dumps([[ALICE, "1"]]))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "root": merkle.build([(ALICE, 1)]).root,
        "proofs": {to_checksum_address(ALICE): []},
    }


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[[1, 2", "is not JSON"),
        ('{"a": 1}', "must be a JSON array"),
        (json.dumps([[ALICE, "1"], [ALICE, "2"]]), "values[1]: account 0xfB69"),
        (json.dumps([[ALICE, "-5"]]), "values[0]: amount '-5' is not a decimal string"),
        (json.dumps([["0x12", "5"]]), "values[0]: address '0x12'"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(
    app: typer.Typer, tmp_path: Path, content: str, message: str
) -> None:
    source = tmp_path / "values.json"
    source.write_text(content)
    result = CliRunner().invoke(app, ["merkle", "build", str(source)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error [") and message in result.stderr
    assert "Traceback" not in result.output


def test_missing_file_is_reported_not_raised(app: typer.Typer, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["merkle", "build", str(tmp_path / "absent.json")])
    assert result.exit_code == 2
    assert "cannot read" in result.stderr and "No such file" in result.stderr
