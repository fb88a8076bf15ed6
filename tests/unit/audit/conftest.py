"""Service tests pin the stages they exercise: the service is under test here, not the stages."""

from __future__ import annotations

from pathlib import Path

import pytest

from datacoop.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "node", chain="off", stages=["size", "duplicates"])
