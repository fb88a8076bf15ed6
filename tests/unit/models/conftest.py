"""Model fixtures: tiny CLIP folders built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.unit.models.tiny_clip import build_tiny_clip


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny CLIP saved the way transformers 5 saves one."""
    return build_tiny_clip(tmp_path_factory.mktemp("tiny-clip"))


@pytest.fixture(scope="session")
def tiny_clip_legacy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny CLIP with the older tokenizer and preprocessor files most published folders have."""
    return build_tiny_clip(tmp_path_factory.mktemp("tiny-clip-legacy"), legacy_layout=True)
