"""The items root is OpenZeppelin's StandardMerkleTree over (uint256 index, bytes32 item hash)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from tests.unit.merkle.conftest import REPO, OpenZeppelin, openzeppelin  # noqa: F401  (reused fixture)

from datacoop import merkle
from datacoop.errors import InvalidInput, NotFound

SCRIPT = Path(__file__).with_name("oz_typed_tree.mjs")
ENCODING = ["uint256", "bytes32"]


def _values(count: int) -> list[tuple[int, bytes]]:
    return [(i, bytes([i % 256]) * 32) for i in range(count)]


@pytest.mark.parametrize("count", [1, 2, 3, 7, 64, 100])
def test_typed_tree_matches_openzeppelin(openzeppelin: OpenZeppelin, count: int) -> None:  # noqa: F811
    values = _values(count)
    payload = {"values": [[str(i), "0x" + h.hex()] for i, h in values]}
    done = subprocess.run(
        ["node", str(SCRIPT)],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=True,
    )
    theirs = json.loads(done.stdout)
    tree = merkle.build_typed(values, ENCODING)
    assert tree.root == theirs["root"]
    assert [tree.proof(i) for i in range(count)] == theirs["proofs"]
    assert all(merkle.verify_typed(tree.root, ENCODING, v, tree.proof(i)) for i, v in enumerate(values))
    if count > 1:
        assert not merkle.verify_typed(tree.root, ENCODING, values[0], tree.proof(1))


def test_typed_tree_refuses_bad_input() -> None:
    with pytest.raises(InvalidInput) as err:
        merkle.build_typed([(1, b"short")], ENCODING)
    assert err.value.field == "values[0]"
    with pytest.raises(InvalidInput):
        merkle.build_from_leaves([])
    with pytest.raises(NotFound):
        merkle.build_typed(_values(2), ENCODING).proof(2)
