"""The operator's settings and `datacoop deploy`'s options are documented where users look."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.core import TyperGroup

from datacoop.cli import app
from datacoop.settings import Settings

REPO = Path(__file__).resolve().parents[3]
SETTINGS = (
    "operator_key", "operator_keystore", "operator_password_file", "operator_signer_url",
    "operator_address", "deployment_file", "network",
)  # fmt: skip


@pytest.mark.parametrize("name", SETTINGS)
def test_each_operator_setting_is_described_and_in_the_readme(name: str) -> None:
    assert Settings.model_fields[name].description
    assert f"`DATACOOP_{name.upper()}`" in (REPO / "README.md").read_text()


def test_every_deploy_option_is_in_docs_deploy() -> None:
    command = typer.main.get_command(app)
    assert isinstance(command, TyperGroup)
    options = [o for p in command.commands["deploy"].params for o in p.opts if o != "--help"]
    page = (REPO / "docs" / "deploy.md").read_text()
    assert len(options) >= 15
    assert [o for o in options if f"`{o}`" not in page and f"{o} " not in page] == []
