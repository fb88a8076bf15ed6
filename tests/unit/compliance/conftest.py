"""The shipped default policy, loaded once: the engine is pure, so tests can share it."""

from __future__ import annotations

import pytest

from datacoop.compliance import PolicyEngine, load_policy


@pytest.fixture(scope="session")
def engine() -> PolicyEngine:
    return PolicyEngine(load_policy())
