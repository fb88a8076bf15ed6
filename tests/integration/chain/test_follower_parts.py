"""The chain follower's tick: a part that fails is logged, and every other part still runs."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount

from datacoop.app import Node, build_node
from datacoop.chain.anvil import AnvilNode
from datacoop.db import Database
from datacoop.settings import Settings


@pytest.fixture
def node(tmp_path: Path, db: Database, anvil: AnvilNode, accounts: list[LocalAccount]) -> Iterator[Node]:
    settings = Settings(
        data_dir=tmp_path / "node", chain="rpc", rpc_url=anvil.url, operator_key="0x" + accounts[0].key.hex()
    )
    built = build_node(settings, db=db, migrate=False)
    yield built
    built.close()


def test_a_failing_watcher_does_not_hold_up_settlement_or_the_exchange(
    node: Node, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Prepare: the watcher fails at every step; the parts after it record that they ran
    ran: list[str] = []

    def broken() -> bool:
        raise ConnectionError("the RPC endpoint went away")

    def records(name: str) -> Any:
        return lambda: ran.append(name) or False

    assert node.watcher is not None
    monkeypatch.setattr(node.watcher, "step", broken)
    monkeypatch.setattr(node.settlement, "tick", records("settlement"))
    monkeypatch.setattr(node.exchange, "sync", records("exchange"))
    # Execute
    with caplog.at_level(logging.ERROR, logger="datacoop.follower"):
        node._chain_tick("test")
    # Assert
    assert ran == ["settlement", "exchange"]
    assert "watcher step failed" in caplog.text and "the RPC endpoint went away" in caplog.text
