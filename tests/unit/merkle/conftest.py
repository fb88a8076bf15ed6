"""Shared by the Merkle tests: value strategies and OpenZeppelin's JavaScript library as the reference.

The reference runs ``oz_tree.mjs`` under Node with ``node_modules/@openzeppelin/merkle-tree``
(``npm ci`` installs it). Where either is missing the comparison is skipped, except in CI
(``CI=true``), where a missing reference is a failure rather than a silent pass.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from eth_utils.address import to_checksum_address
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[3]
SCRIPT = Path(__file__).with_name("oz_tree.mjs")
OZ_PACKAGE = REPO / "node_modules" / "@openzeppelin" / "merkle-tree" / "package.json"
UINT256_MAX = 2**256 - 1

Values = list[tuple[str, int]]
OpenZeppelin = Callable[..., dict[str, Any]]


def address_text(raw: bytes, case: str) -> str:
    """An address in one of the spellings people use: lower, upper or EIP-55."""
    lower = "0x" + raw.hex()
    return {"lower": lower, "upper": "0x" + raw.hex().upper(), "checksum": to_checksum_address(lower)}[case]


def addresses(case: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[str]:
    """Addresses spelt in the given case strategy (default: any spelling for each)."""
    cases = st.sampled_from(["lower", "upper", "checksum"]) if case is None else case
    return st.builds(address_text, st.binary(min_size=20, max_size=20), cases)


amounts = st.one_of(st.integers(0, 10**24), st.sampled_from([0, 1, UINT256_MAX]), st.integers(0, UINT256_MAX))


@st.composite
def value_lists(
    draw: st.DrawFn, min_size: int = 1, max_size: int = 40, spelling: str | None = None
) -> Values:
    """Lists of (address, amount) with every account once, all spelt one way or each its own ("mixed")."""
    spelling = spelling or draw(st.sampled_from(["lower", "checksum", "upper", "mixed"]))
    case = st.sampled_from(["lower", "upper", "checksum"]) if spelling == "mixed" else st.just(spelling)
    return draw(
        st.lists(
            st.tuples(addresses(case), amounts),
            min_size=min_size,
            max_size=max_size,
            unique_by=lambda value: value[0].lower(),
        )
    )


def numbered(count: int, start: int = 1) -> Values:
    """``count`` distinct accounts 0x…01, 0x…02, … with amounts 1000, 2000, …"""
    return [(f"0x{i:040x}", 1000 * i) for i in range(start, start + count)]


def _missing_reference() -> str | None:
    if shutil.which("node") is None:
        return "node is not on PATH"
    if not OZ_PACKAGE.exists():
        return f"{OZ_PACKAGE.parent.relative_to(REPO)} is missing (run `npm ci`)"
    return None


@pytest.fixture(scope="session")
def openzeppelin() -> OpenZeppelin:
    """Run OpenZeppelin's StandardMerkleTree on value sets (and load dumps); returns its JSON answer."""
    problem = _missing_reference()
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"OpenZeppelin reference required in CI: {problem}")
        pytest.skip(f"OpenZeppelin reference unavailable: {problem}")

    def run(sets: Sequence[Values], dumps: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
        payload = {"sets": [[[a, str(x)] for a, x in values] for values in sets], "dumps": list(dumps)}
        done = subprocess.run(
            ["node", str(SCRIPT)],
            input=json.dumps(payload),
            capture_output=True,
            text=True,
            timeout=120,
            cwd=REPO,
        )
        assert done.returncode == 0, done.stderr
        answer: dict[str, Any] = json.loads(done.stdout)
        return answer

    return run
