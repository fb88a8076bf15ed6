"""Settings for the operator's key: one source at a time, and never a raw key in production."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from datacoop.cli import app
from datacoop.settings import Settings

KEY = "0x" + "11" * 32
PRODUCTION = {
    "environment": "production", "dev_accounts": 0, "chain": "rpc", "rpc_url": "http://127.0.0.1:1",
    "database_url": "postgresql://x/y", "download_secret": "k" * 32,
}  # fmt: skip


def test_production_refuses_a_raw_operator_key_naming_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATACOOP_OPERATOR_KEY", KEY)
    with pytest.raises(ValidationError, match="operator_key is refused in production") as err:
        Settings(**PRODUCTION)  # type: ignore[arg-type]
    assert "operator_keystore" in str(err.value) and "operator_signer_url" in str(err.value)


def test_production_takes_a_keystore_or_an_external_signer(tmp_path: Path) -> None:
    keystore = Settings(**PRODUCTION, operator_keystore=tmp_path / "k.json")  # type: ignore[arg-type]
    signer = Settings(**PRODUCTION, operator_signer_url="http://127.0.0.1:9000")  # type: ignore[arg-type]
    assert keystore.operator_keystore == tmp_path / "k.json"
    assert signer.operator_signer_url == "http://127.0.0.1:9000"


def test_development_still_takes_a_raw_key() -> None:
    assert Settings(operator_key=KEY).operator_key == KEY


def test_two_sources_of_the_operator_key_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="set one of operator_key, operator_keystore"):
        Settings(operator_key=KEY, operator_keystore=tmp_path / "k.json")


def test_the_deployment_file_defaults_into_the_data_directory(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path).resolved_deployment_file == tmp_path / "chain" / "deployment.json"
    assert Settings(deployment_file=tmp_path / "d.json").resolved_deployment_file == tmp_path / "d.json"


def test_an_operator_address_must_be_an_address() -> None:
    with pytest.raises(ValidationError, match="operator_address"):
        Settings(operator_address="0x1234")


def test_datacoop_up_refuses_a_raw_key_in_production_in_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Prepare: a production environment whose only fault is the raw key
    env = {f"DATACOOP_{k.upper()}": str(v) for k, v in PRODUCTION.items()} | {"DATACOOP_OPERATOR_KEY": KEY}
    sigterm = signal.getsignal(signal.SIGTERM)  # `up` installs its own handler first
    # Execute
    try:
        result = CliRunner().invoke(app, ["up", "--data-dir", str(tmp_path)], env=env)
    finally:
        signal.signal(signal.SIGTERM, sigterm)
    # Assert: exit 2 (invalid input), the setting named, no traceback, nothing started
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: operator_key is refused in production")
    assert "Traceback" not in result.output and not (tmp_path / "chain").exists()
