"""The chain's fixtures (a fresh anvil, its funded accounts), for compute tests that need a chain."""

from __future__ import annotations

from tests.integration.chain.conftest import accounts, anvil

__all__ = ["accounts", "anvil"]
