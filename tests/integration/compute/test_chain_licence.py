"""A compute licence is the licence token's: on a real anvil, passing the token on with
``transferFrom`` takes the right to run jobs with it (the check reads the chain, not the
database), and released outputs download only in their buyer's own session."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from tests.integration.chain.test_exchange import open_market
from tests.unit.compute.world import approve

from datacoop.app import Node, build_node
from datacoop.chain.anvil import AnvilNode
from datacoop.db import Database
from datacoop.errors import Forbidden
from datacoop.settings import Settings

ALGORITHM = """
import json, os
def run(data_dir, out_dir):
    count = len(os.listdir(os.path.join(data_dir, "items")))
    json.dump({"items": count}, open(os.path.join(out_dir, "n.json"), "w"))
"""


@pytest.fixture
def node(
    tmp_path: Path, db: Database, clock: Any, anvil: AnvilNode, accounts: list[LocalAccount]
) -> Iterator[Node]:
    settings = Settings(
        data_dir=tmp_path / "node", chain="rpc", rpc_url=anvil.url, operator_key="0x" + accounts[0].key.hex()
    )
    built = build_node(settings, db=db, clock=clock, migrate=False)
    yield built
    built.close()


def test_a_transferred_licence_takes_its_compute_rights_with_it(
    node: Node,
    sdk: Any,
    accounts: list[LocalAccount],
    tmp_path: Path,
) -> None:
    # Prepare: buyer1 buys a compute-to-data licence; the publisher approves the algorithm
    m = open_market(node, sdk, accounts)
    buyer1, buyer2 = sdk(accounts[4]), sdk(accounts[5])
    order = buyer1.place_order(m.listing.id, m.buy(accounts[4]), "US")
    path = tmp_path / "algorithm.py"
    path.write_text(textwrap.dedent(ALGORITHM))
    approve(node, m.version_id, path)
    first = buyer1.compute_submit(m.version_id, path)
    # Execute: the token is passed on, on chain only (the node's database is not told)
    data = m.market.contract.encode_abi(
        "transferFrom", args=[accounts[4].address, accounts[5].address, int(order["licence_id"])]
    )
    m.chain.send(accounts[4], {"to": m.market.address, "data": data})
    # Assert: buyer1's next job is refused; the licence is now buyer2's, who holds no order of ours
    with pytest.raises(Forbidden) as refused:
        buyer1.compute_submit(m.version_id, path)
    assert refused.value.message == f"you hold no compute licence for dataset version {m.version_id}"
    with pytest.raises(Forbidden):
        buyer2.compute_submit(m.version_id, path)
    assert first.status == "queued"
