"""A watcher killed (SIGKILL) in the middle of a range resumes from its cursor and keeps every event once.

Real anvil, real LicenseMarket events (its deployment's, a listing, five sales); the first watcher
runs in a child process that kills itself while its third range with events is written but not
committed. A second watcher (this process) takes
the outbox lease of the dead one at once and reads on from the cursor the child committed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from eth_account.signers.local import LocalAccount
from sqlalchemy import select

from datacoop.chain.client import ChainClient
from datacoop.chain.contracts import DatasetRegistry, LicenseMarket, TestToken
from datacoop.chain.deploy import Deployment
from datacoop.chain.lease import OutboxLease
from datacoop.chain.watch_rpc import RpcReader
from datacoop.chain.watcher import ChainWatcher
from datacoop.db import Database
from datacoop.db.models import ChainCursor, ChainEvent

SALES = 5
NAME = "restart-test"

CHILD = textwrap.dedent(
    """
    import json, os, signal, sys
    from sqlalchemy import event
    from datacoop.chain.client import ChainClient
    from datacoop.chain.lease import OutboxLease
    from datacoop.chain.watch_rpc import RpcReader
    from datacoop.chain.watcher import ChainWatcher
    from datacoop.db import Database

    args = json.loads(sys.argv[1])
    db = Database(args["url"], schema=args["schema"])
    ranges, wrote = 0, False

    def kill_on_third_range(conn, cursor, statement, *rest):
        global ranges, wrote
        words = statement.lstrip().upper()
        wrote = wrote or words.startswith("INSERT INTO CHAIN_EVENTS")
        if wrote and words.startswith("UPDATE CHAIN_CURSORS"):
            ranges, wrote = ranges + 1, False
            if ranges == 3:  # the third range with events: written, the cursor moving, nothing committed
                os.kill(os.getpid(), signal.SIGKILL)

    event.listen(db.engine, "before_cursor_execute", kill_on_third_range)
    watcher = ChainWatcher(
        db, RpcReader(ChainClient(args["rpc"])), {args["market"]: "LicenseMarket"}, name=args["name"],
        chain_id=31337, confirmations=1, lease=OutboxLease(db, "outbox:restart"), start_block=1, max_range=1,
    )
    while watcher.step():
        pass
    """
)


def _sell(
    chain: ChainClient, deployment: Deployment, seller: LocalAccount, buyers: list[LocalAccount]
) -> None:
    registry, market = DatasetRegistry(chain, deployment.registry), LicenseMarket(chain, deployment.market)
    token = TestToken(chain, deployment.token)
    chain.send(seller, registry.create_dataset(seller.address).as_tx())
    chain.send(seller, registry.publish_version(1, "bafy-test", "0x" + "11" * 32, 3).as_tx())
    chain.send(seller, market.list_version(1, 1, token.address, 100, "0x" + "22" * 32, 3600, 1000).as_tx())
    for n in range(SALES):
        buyer = buyers[n % len(buyers)]
        chain.send(buyer, token.mint(buyer.address, 100).as_tx())
        chain.send(buyer, token.approve(market.address, 100).as_tx())
        chain.send(buyer, market.buy(1).as_tx())


def _kept(db: Database) -> list[tuple[str, int]]:
    with db.transaction() as s:
        rows = s.execute(select(ChainEvent.tx_hash, ChainEvent.log_index).where(ChainEvent.cursor == NAME))
        return sorted((tx, index) for tx, index in rows)


def test_a_watcher_killed_mid_range_resumes_and_keeps_each_event_once(
    db: Database, chain: ChainClient, deployment: Deployment, accounts: list[LocalAccount], tmp_path: Path
) -> None:
    # Prepare: a listing and five sales, one transaction per block
    _sell(chain, deployment, accounts[1], accounts[2:5])
    head = chain.block_number()
    logs = chain.w3.eth.get_logs({"address": deployment.market, "fromBlock": 1, "toBlock": head})
    on_chain = sorted(("0x" + bytes(e["transactionHash"]).hex(), int(e["logIndex"])) for e in logs)
    args = {
        "url": db.url,
        "schema": db.schema,
        "rpc": chain.rpc_url,
        "market": deployment.market,
        "name": NAME,
    }
    # Execute: the child dies inside its third range; a watcher here takes over
    child = subprocess.run([sys.executable, "-c", CHILD, json.dumps(args)], capture_output=True, timeout=120)
    with db.transaction() as s:
        cursor = s.get(ChainCursor, NAME)
        assert cursor is not None
        committed, kept_then = cursor.block_number, _kept(db)
    resumed = ChainWatcher(
        db, RpcReader(chain), {deployment.market: "LicenseMarket"}, name=NAME, chain_id=31337,
        confirmations=1, lease=OutboxLease(db, "outbox:restart"), start_block=1, max_range=1,
    )  # fmt: skip
    while resumed.step():
        pass
    # Assert: killed with two ranges of events committed, none of the third; then every event once
    assert child.returncode == -9, child.stderr.decode()
    before_kill = [e for e in logs if e["blockNumber"] <= committed]
    assert 0 < len(kept_then) == len(before_kill) < len(on_chain) and committed < head
    assert len({e["blockNumber"] for e in before_kill}) == 2
    assert _kept(db) == on_chain
    assert sum(e["topics"][0] == logs[-1]["topics"][0] for e in logs) == SALES  # five LicenceSold
    assert resumed.state().processed == head
