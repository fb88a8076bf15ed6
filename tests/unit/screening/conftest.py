"""Fixtures for the stage tests (builders: ``items.py``; corpus cases: ``tests/data/make_corpus.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.data import make_corpus
from tests.unit.screening.items import Blobs


@pytest.fixture
def blobs() -> Blobs:
    return Blobs()


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every bad-input case, generated once per test session, by name."""
    return make_corpus.write(tmp_path_factory.mktemp("corpus"))
