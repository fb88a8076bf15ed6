"""The operator's files (settings reference, compose file, Containerfile) name only what exists."""

from __future__ import annotations

import json
import re
from pathlib import Path

import typer
import yaml
from typer.core import TyperGroup

from datacoop.cli import app
from datacoop.cli.settings_doc import settings_reference
from datacoop.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def _options(command: str) -> set[str]:
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    assert command in group.commands, f"no `datacoop {command}`"
    return {opt for param in group.commands[command].params for opt in param.opts}


def test_the_settings_reference_is_the_settings_objects_own() -> None:
    assert (REPO / "docs" / "settings.md").read_text() == settings_reference(), (
        "run: datacoop settings > docs/settings.md"
    )


def test_the_compose_file_runs_existing_commands_with_existing_settings() -> None:
    compose = yaml.safe_load((REPO / "deploy" / "compose.yaml").read_text())
    ours = {name: svc for name, svc in compose["services"].items() if "command" in svc}
    assert set(ours) == {"api", "worker"}
    for service in ours.values():
        command, *args = service["command"]
        assert {a for a in args if a.startswith("--")} <= _options(command)
        for variable in service["environment"]:
            if variable.startswith("DATACOOP_"):
                assert variable.removeprefix("DATACOOP_").lower() in Settings.model_fields, variable


def test_the_image_starts_an_existing_command() -> None:
    text = (REPO / "deploy" / "Containerfile").read_text()
    command, *args = json.loads(re.search(r"^CMD (\[.*\])$", text, re.M).group(1))  # type: ignore[union-attr]
    assert {a for a in args if a.startswith("--")} <= _options(command)
    assert re.search(r"^USER datacoop$", text, re.M)  # never root
    for variable in re.findall(r"(DATACOOP_[A-Z_]+)=", text):
        assert variable.removeprefix("DATACOOP_").lower() in Settings.model_fields, variable
