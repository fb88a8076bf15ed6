"""Bytecode verification: the compiled runtime code, then exactly the immutables Vyper's metadata names."""

from __future__ import annotations

import pytest

from datacoop.chain.artifacts import Artifact, compile_contract
from datacoop.chain.verify import code_layout, code_matches


@pytest.fixture(scope="module")
def token() -> Artifact:
    return compile_contract("TestToken")  # stable and carries immutables (snekmate's EIP-712 cache)


def test_the_layout_comes_from_the_init_codes_metadata(token: Artifact) -> None:
    layout = code_layout(token)
    assert layout.runtime_size == len(token.runtime_bytecode)
    assert layout.immutables_size > 0 and layout.immutables_size % 32 == 0


def test_runtime_code_followed_by_any_immutables_values_matches(token: Artifact) -> None:
    immutables = bytes(range(256)) * (code_layout(token).immutables_size // 256 + 1)
    assert code_matches(token.runtime_bytecode + immutables[: code_layout(token).immutables_size], token)


@pytest.mark.parametrize(
    "change", ["one code byte", "one byte more", "one byte less", "empty", "other contract"]
)
def test_anything_else_does_not(token: Artifact, change: str) -> None:
    # Prepare
    good = token.runtime_bytecode + b"\x00" * code_layout(token).immutables_size
    code = {
        "one code byte": good[:100] + bytes([good[100] ^ 1]) + good[101:],
        "one byte more": good + b"\x00",
        "one byte less": good[:-1],
        "empty": b"",
        "other contract": compile_contract("DatasetRegistry").runtime_bytecode,
    }[change]
    # Execute / Assert
    assert not code_matches(code, token)
