"""A real anvil per test module, DataCoop's contracts deployed through the chain layer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount

from datacoop.chain.anvil import AnvilNode
from datacoop.chain.client import ChainClient
from datacoop.chain.contracts import TaskEscrow, TestToken
from datacoop.chain.deploy import Deployment, ensure_deployed
from datacoop.chain.outbox import Relay
from datacoop.client import derive_dev_accounts
from datacoop.db import Database


@pytest.fixture(scope="module")
def accounts() -> list[LocalAccount]:
    return derive_dev_accounts(6)  # anvil funds these with ETH; [0] is the operator


@pytest.fixture
def anvil(tmp_path: Path) -> Iterator[AnvilNode]:
    with AnvilNode(tmp_path / "chain") as node:
        yield node


@pytest.fixture
def chain(anvil: AnvilNode) -> ChainClient:
    return ChainClient(anvil.url)


@pytest.fixture
def relay(db: Database, chain: ChainClient, accounts: list[LocalAccount]) -> Relay:
    return Relay(db, chain, accounts[0])


@pytest.fixture
def deployment(chain: ChainClient, relay: Relay, accounts: list[LocalAccount], tmp_path: Path) -> Deployment:
    return ensure_deployed(chain, relay, accounts[0], tmp_path / "deployment.json")


@pytest.fixture
def token(chain: ChainClient, deployment: Deployment) -> TestToken:
    return TestToken(chain, deployment.token)


@pytest.fixture
def escrow(chain: ChainClient, deployment: Deployment) -> TaskEscrow:
    return TaskEscrow(chain, deployment.escrow)
