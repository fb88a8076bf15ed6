"""The download-URL signing secret: generated once into the data directory, required in production."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from datacoop.app import build_node
from datacoop.db import Database
from datacoop.settings import Settings


def test_a_generated_secret_is_kept_private_and_reused(tmp_path: Path, db: Database) -> None:
    settings = Settings(data_dir=tmp_path / "node", chain="off")
    first = build_node(settings, db=db, migrate=False, with_chain=False, check_stages=False)
    again = build_node(settings, db=db, migrate=False, with_chain=False, check_stages=False)
    path = tmp_path / "node" / "download_secret"
    assert (
        first.exchange._secret == again.exchange._secret == path.read_text() and len(path.read_text()) == 64
    )
    assert path.stat().st_mode & 0o777 == 0o600


def test_production_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    production = {
        "environment": "production", "dev_accounts": 0, "chain": "rpc", "rpc_url": "http://127.0.0.1:1",
        "database_url": "postgresql://x/y",
    }  # fmt: skip
    with pytest.raises(ValidationError, match="download_secret must be set"):
        Settings(**production)
    with pytest.raises(ValidationError, match="at least 32 characters"):
        Settings(**production, download_secret="short")
    assert Settings(**production, download_secret="k" * 32).download_secret == "k" * 32
