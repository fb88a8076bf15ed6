"""`datacoop cid` through Typer's test runner, on a small app that only registers it."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from datacoop.cid import PROFILES, cid_of_bytes
from datacoop.cli.cid import register

HELLO_CID = "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:  # a callback keeps `cid` a sub-command, as in the real CLI
        """Test app."""

    register(app)
    return app


@pytest.fixture
def hello(tmp_path: Path) -> Path:
    path = tmp_path / "hello.txt"
    path.write_bytes(b"hello world")
    return path


def test_prints_cid_two_spaces_and_file(app: typer.Typer, hello: Path, tmp_path: Path) -> None:
    # Prepare
    other = tmp_path / "zeros.bin"
    other.write_bytes(bytes(300_000))

    # Execute
    result = CliRunner().invoke(app, ["cid", str(hello), str(other)])

    # Assert
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"{HELLO_CID}  {hello}", f"{cid_of_bytes(bytes(300_000))}  {other}"]


def test_dash_reads_stdin(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["cid", "-"], input=b"hello world")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{HELLO_CID}  -\n"


def test_unreadable_files_are_reported_the_rest_printed_and_exit_is_2(
    app: typer.Typer, hello: Path, tmp_path: Path
) -> None:
    # Execute
    result = CliRunner().invoke(app, ["cid", str(tmp_path / "absent"), str(hello), str(tmp_path)])

    # Assert
    assert result.exit_code == 2
    assert result.stdout == f"{HELLO_CID}  {hello}\n"
    assert f"cannot read {tmp_path / 'absent'}: No such file or directory" in result.stderr
    assert f"cannot read {tmp_path}: Is a directory" in result.stderr


def test_profile_option_changes_the_cut(app: typer.Typer, tmp_path: Path) -> None:
    # Prepare: two 256 KiB chunks under kubo's default, one leaf under 1 MiB chunks.
    path = tmp_path / "half.bin"
    path.write_bytes(bytes(2**19))

    # Execute
    result = CliRunner().invoke(app, ["cid", "--profile", "unixfs-v1-2025", str(path)])

    # Assert
    assert result.exit_code == 0, result.output
    assert result.stdout.split()[0] == cid_of_bytes(bytes(2**19), PROFILES["unixfs-v1-2025"])
    assert result.stdout.split()[0] != cid_of_bytes(bytes(2**19))


def test_unknown_profile_exits_2_naming_the_option(app: typer.Typer, hello: Path) -> None:
    result = CliRunner().invoke(app, ["cid", "--profile", "kubo-cidv2", str(hello)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "cid_profile" in result.stderr
    assert "kubo-cidv1" in result.stderr
