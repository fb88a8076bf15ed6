"""A task's money path from the command line, against a real `datacoop up` and its embedded chain.

The requester funds the task on chain, a contributor's item is accepted, the
operator closes an epoch, the node posts and confirms it, the contributor claims.
"""

from __future__ import annotations

import re
import time

from tests.conftest import REPO
from tests.e2e.conftest import RunningNode
from tests.e2e.test_readme import run

from datacoop.chain.client import ChainClient
from datacoop.chain.contracts import TestToken
from datacoop.client import DataCoopClient, load_account


def _wait(predicate, timeout: float = 90) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.3)


def test_fund_close_and_claim_from_the_cli(running_node: RunningNode) -> None:
    # Prepare: a task that accepts what passes the automatic checks, and one good photo
    node = running_node
    created = run(
        "datacoop task create --key dev:1 --title Masks --reward 5 --target 10 --consent ok --auto-accept",
        node,
    )
    task_id = int(re.search(r"task (\d+):", created.stdout).group(1))  # type: ignore[union-attr]
    contributor = load_account("dev:2", data_dir=node.data_dir)
    with DataCoopClient(node.url) as anonymous:
        health = anonymous.health()["chain"]
    token = TestToken(ChainClient(f"{node.url}/v1/chain/rpc"), health["token"])  # the node's relay
    before = token.balance_of(contributor.address)
    # Execute
    funded = run(f"datacoop task fund {task_id} --amount 50 --key dev:1", node)
    submitted = run(
        f"datacoop submit {task_id} {REPO / 'examples' / 'mask.jpg'} --jurisdiction KE --key dev:2", node
    )
    with DataCoopClient(node.url, account=contributor) as sdk:
        sdk.login()
        _wait(lambda: sdk.my_submissions(task_id)[0].state == "accepted")
        closed = run(f"datacoop epoch close {task_id} --key dev:0", node)
        _wait(lambda: [e["status"] for e in sdk.epochs(task_id)] == ["confirmed"])
    claimed = run("datacoop claim --key dev:2", node)
    earnings = run("datacoop earnings --key dev:2", node)
    nothing = run("datacoop claim --key dev:2", node)
    refused = run(f"datacoop epoch close {task_id} --key dev:2", node)
    # Assert
    for result in (created, funded, submitted, closed, claimed, earnings, nothing):
        assert result.returncode == 0, result.stdout + result.stderr
    assert f"task {task_id} funded: escrow task" in funded.stdout
    assert "reward per item: 5 DCT" in created.stdout  # whole tokens in, the token's symbol out
    assert f"task {task_id} funded: escrow task" in funded.stdout and "50 DCT" in funded.stdout
    assert f"task {task_id} epoch 1: 1 earnings, total 5 DCT" in closed.stdout
    assert f"task {task_id}: claimed 5 DCT (epoch 1" in claimed.stdout
    assert token.balance_of(contributor.address) - before == 5 * 10**18
    assert "nothing to claim" in nothing.stdout
    assert refused.returncode != 0 and refused.stderr.startswith(
        "error [authorization]: only the node's operator"
    )
    assert "5 DCT" in earnings.stdout
