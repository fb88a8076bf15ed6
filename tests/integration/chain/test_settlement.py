"""Settlement on a real node: epochs posted exactly once through crashes, drops, reorgs and restarts.

Each test funds a task's escrow as its requester would, accepts items in the
database, closes epochs and lets contributors claim with their own keys. After
every fault the chain must hold each epoch's root exactly once, and no account
may claim more than its entitlement.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from sqlalchemy import select

from datacoop.chain.anvil import AnvilNode
from datacoop.chain.client import ChainClient
from datacoop.chain.contracts import TaskEscrow, TestToken
from datacoop.chain.deploy import Deployment
from datacoop.chain.outbox import Relay
from datacoop.chain.setup import ChainHandle
from datacoop.db import Database
from datacoop.db.models import Blob, ChainTx, Submission
from datacoop.errors import Conflict
from datacoop.identity import participants
from datacoop.identity.schemas import Caller
from datacoop.settlement.service import SettlementService
from datacoop.tasks.schemas import TaskCreate
from datacoop.tasks.service import TaskService

UNIT = 10**18
REWARD = 2 * UNIT


def _participant(db: Database, address: str) -> Caller:
    with db.transaction() as s:
        return participants.as_caller(participants.get_or_create(s, address, datetime.now(UTC)), 31337)


def _task(db: Database, requester: LocalAccount) -> int:
    row = _participant(db, requester.address)
    now = datetime.now(UTC)
    task = TaskService(db).create(
        row,
        TaskCreate(
            title="Ventilation ducts",
            description="photos of ducts in confined spaces",
            modality="image",
            reward_per_item=REWARD,
            target_count=100,
            deadline=now + timedelta(days=2),
            consent_text="I agree",
        ),
    )
    return task.id


_counter = iter(range(1, 1_000_000))


def _accept(db: Database, task_id: int, contributor: LocalAccount, n: int) -> None:
    """Items already through review: the layer under test starts at an accepted submission."""
    now = datetime.now(UTC)
    with db.transaction() as s:
        who = participants.get_or_create(s, contributor.address, now)
        for _ in range(n):
            i = next(_counter)
            cid = f"bafkreitest{i:040d}"
            s.add(Blob(cid=cid, size=1, profile="kubo-cidv1", uploader_id=who.id, created_at=now))
            s.flush()
            s.add(
                Submission(
                    task_id=task_id,
                    contributor_id=who.id,
                    cid=cid,
                    consent_hash="0x" + "00" * 32,
                    jurisdiction="KE",
                    nonce=i,
                    deadline=0,
                    signature="0x",
                    digest=f"0x{i:064x}",
                    state="accepted",
                    created_at=now,
                    updated_at=now,
                )
            )


def _fund(
    chain: ChainClient, token: TestToken, escrow: TaskEscrow, requester: LocalAccount, budget: int
) -> int:
    chain.send(requester, token.mint(requester.address, budget).as_tx())
    chain.send(requester, token.approve(escrow.address, budget).as_tx())
    now = chain.w3.eth.get_block("latest")["timestamp"]
    # the task's reward per item bounds every root: each epoch commits how many accepted items it pays
    opening = escrow.open_task(token.address, budget, now + 3600, 86_400, reward_per_item=REWARD)
    chain.send(requester, opening.as_tx())
    return escrow.task_count()


def _roots_posted(chain: ChainClient, escrow: TaskEscrow, escrow_task_id: int) -> list[int]:
    contract = chain.contract("TaskEscrow", escrow.address)
    logs = contract.events.RootPosted.get_logs(from_block=0)
    return [int(log["args"]["epoch"]) for log in logs if int(log["args"]["taskId"]) == escrow_task_id]


@pytest.fixture
def handle(
    chain: ChainClient, relay: Relay, accounts: list[LocalAccount], deployment: Deployment
) -> ChainHandle:
    return ChainHandle(chain, relay, accounts[0], deployment)


@pytest.fixture
def service(db: Database, handle: ChainHandle) -> SettlementService:
    return SettlementService(db, handle)


def _funded_task(
    db: Database,
    service: SettlementService,
    chain: ChainClient,
    token: TestToken,
    escrow: TaskEscrow,
    requester: LocalAccount,
    budget: int,
) -> tuple[int, int]:
    task_id = _task(db, requester)
    escrow_task_id = _fund(chain, token, escrow, requester, budget)
    service.link_escrow(_participant(db, requester.address), task_id, escrow_task_id)
    return task_id, escrow_task_id


def _claim(chain: ChainClient, escrow: TaskEscrow, service: SettlementService, who: LocalAccount) -> None:
    for claim in service.claims(who.address):
        if int(claim.claimable):
            req = escrow.claim(claim.escrow_task_id, who.address, int(claim.cumulative), claim.proof)
            chain.send(who, req.as_tx())


def test_epochs_pay_contributors_once_each(
    db: Database,
    service: SettlementService,
    chain: ChainClient,
    token: TestToken,
    escrow: TaskEscrow,
    accounts: list[LocalAccount],
) -> None:
    # Prepare
    requester, alice, bob = accounts[1], accounts[2], accounts[3]
    task_id, escrow_task_id = _funded_task(db, service, chain, token, escrow, requester, 100 * UNIT)
    _accept(db, task_id, alice, 3)
    _accept(db, task_id, bob, 1)
    # Execute: epoch 1, claims; more items; epoch 2, claims again
    first = service.settle(task_id)
    _claim(chain, escrow, service, alice)
    _accept(db, task_id, alice, 2)
    _accept(db, task_id, bob, 2)
    second = service.settle(task_id)
    _claim(chain, escrow, service, alice)
    _claim(chain, escrow, service, bob)
    # Assert
    assert first is not None and second is not None
    assert (first.status, first.total) == ("confirmed", 4 * REWARD)
    assert (second.status, second.total) == ("confirmed", 8 * REWARD)
    assert token.balance_of(alice.address) == 5 * REWARD and token.balance_of(bob.address) == 3 * REWARD
    assert _roots_posted(chain, escrow, escrow_task_id) == [1, 2]
    assert service.settle(task_id) is None  # nothing new: no epoch, no transaction
    statement = service.statement(alice.address)
    assert [(e.epoch, int(e.total)) for e in statement.epochs] == [(1, 3 * REWARD), (2, 2 * REWARD)]
    spend = service.spend(_participant(db, requester.address), task_id)
    assert (int(spend.posted), int(spend.paid), spend.accepted_items_paid) == (
        16 * UNIT,
        16 * UNIT,
        8,
    )
    assert int(spend.cost_per_item) == REWARD


def test_overflow_waits_for_a_top_up(
    db: Database,
    service: SettlementService,
    chain: ChainClient,
    token: TestToken,
    escrow: TaskEscrow,
    accounts: list[LocalAccount],
) -> None:
    requester, alice = accounts[1], accounts[2]
    task_id, escrow_task_id = _funded_task(db, service, chain, token, escrow, requester, 5 * REWARD)
    _accept(db, task_id, alice, 8)
    first = service.settle(task_id)
    assert first is not None and (first.total, first.earnings, first.shortfall) == (5 * REWARD, 5, 3 * REWARD)
    assert service.settle(task_id) is None  # the escrow is spent: the rest waits
    assert service.spend(_participant(db, requester.address), task_id).top_up_needed == str(3 * REWARD)
    chain.send(requester, token.mint(requester.address, 3 * REWARD).as_tx())
    chain.send(requester, token.approve(escrow.address, 3 * REWARD).as_tx())
    chain.send(requester, escrow.top_up(escrow_task_id, 3 * REWARD).as_tx())
    second = service.settle(task_id)
    assert second is not None and (second.total, second.shortfall) == (8 * REWARD, 0)
    _claim(chain, escrow, service, alice)
    assert token.balance_of(alice.address) == 8 * REWARD


def test_crash_between_building_and_posting_resumes_without_a_second_posting(
    db: Database,
    handle: ChainHandle,
    chain: ChainClient,
    token: TestToken,
    escrow: TaskEscrow,
    accounts: list[LocalAccount],
) -> None:
    service = SettlementService(db, handle)
    task_id, escrow_task_id = _funded_task(db, service, chain, token, escrow, accounts[1], 50 * UNIT)
    _accept(db, task_id, accounts[2], 2)
    built = service.close_epoch(task_id)  # committed with its outbox record; the process "dies" here
    assert built is not None and built.status == "pending"
    with pytest.raises(Conflict):  # a second close while it is open takes nothing twice
        service.close_epoch(task_id)
    restarted = SettlementService(
        db, ChainHandle(chain, Relay(db, chain, accounts[0]), accounts[0], handle.deployment)
    )
    for _ in range(50):
        restarted.drive()
        if restarted.epoch(task_id, 1).status == "confirmed":
            break
    assert restarted.epoch(task_id, 1).status == "confirmed"
    assert _roots_posted(chain, escrow, escrow_task_id) == [1]


def test_crash_after_sending_before_recording_is_found_by_its_hash(
    db: Database,
    service: SettlementService,
    handle: ChainHandle,
    chain: ChainClient,
    token: TestToken,
    escrow: TaskEscrow,
    accounts: list[LocalAccount],
) -> None:
    task_id, escrow_task_id = _funded_task(db, service, chain, token, escrow, accounts[1], 50 * UNIT)
    _accept(db, task_id, accounts[2], 2)
    built = service.close_epoch(task_id)
    assert built is not None
    with db.transaction() as s:
        row_id = s.scalars(select(ChainTx.id).where(ChainTx.status == "pending")).one()
    handle.relay._advance(row_id)  # signed and committed
    with db.transaction() as s:
        row = s.get(ChainTx, row_id)
        assert row is not None and row.status == "signed" and row.raw
        raw = row.raw
    chain.w3.eth.send_raw_transaction(raw)  # broadcast; the process dies before recording it
    restarted = SettlementService(
        db, ChainHandle(chain, Relay(db, chain, accounts[0]), accounts[0], handle.deployment)
    )
    for _ in range(50):
        restarted.drive()
        if restarted.epoch(task_id, 1).status == "confirmed":
            break
    assert restarted.epoch(task_id, 1).status == "confirmed"
    assert _roots_posted(chain, escrow, escrow_task_id) == [1]
    with db.transaction() as s:
        assert len(s.get(ChainTx, row_id).hashes) == 1  # type: ignore[union-attr]


def test_dropped_posting_is_sent_again_and_lands_once(
    db: Database,
    service: SettlementService,
    chain: ChainClient,
    token: TestToken,
    escrow: TaskEscrow,
    accounts: list[LocalAccount],
) -> None:
    task_id, escrow_task_id = _funded_task(db, service, chain, token, escrow, accounts[1], 50 * UNIT)
    _accept(db, task_id, accounts[2], 3)
    chain.rpc("evm_setAutomine", [False])
    service.close_epoch(task_id)
    service.drive()  # signed
    service.drive()  # sent
    with db.transaction() as s:
        tx_hash = s.scalars(select(ChainTx.tx_hash).where(ChainTx.status == "sent")).one()
    chain.rpc("anvil_dropTransaction", [tx_hash])
    service.drive()  # gone from the pool: the same bytes again
    chain.rpc("evm_mine", [])
    chain.rpc("evm_setAutomine", [True])
    for _ in range(50):
        service.drive()
        if service.epoch(task_id, 1).status == "confirmed":
            break
    assert service.epoch(task_id, 1).status == "confirmed"
    assert _roots_posted(chain, escrow, escrow_task_id) == [1]


def test_reorg_within_confirmations_rolls_the_epoch_back_to_pending(
    db: Database,
    chain: ChainClient,
    token: TestToken,
    escrow: TaskEscrow,
    deployment: Deployment,
    accounts: list[LocalAccount],
) -> None:
    handle = ChainHandle(chain, Relay(db, chain, accounts[0], confirmations=3), accounts[0], deployment)
    service = SettlementService(db, handle)
    task_id, escrow_task_id = _funded_task(db, service, chain, token, escrow, accounts[1], 50 * UNIT)
    _accept(db, task_id, accounts[2], 1)
    for _ in range(3):
        chain.rpc("evm_mine", [])
    service.close_epoch(task_id)
    seen = []
    for _ in range(4):
        seen += [v.status for v in service.drive()]
    assert seen[-1] == "posted"
    chain.rpc("anvil_reorg", [2, []])  # the block with the posting is gone
    seen += [v.status for v in service.drive()]
    assert seen[-1] == "pending"
    for _ in range(100):
        chain.rpc("evm_mine", [])
        service.drive()
        if service.epoch(task_id, 1).status == "confirmed":
            break
    assert service.epoch(task_id, 1).status == "confirmed"
    assert _roots_posted(chain, escrow, escrow_task_id) == [1]


def test_node_restart_between_posting_and_confirmation(
    db: Database,
    tmp_path: Path,
    token: TestToken,
    accounts: list[LocalAccount],
    anvil: AnvilNode,
    chain: ChainClient,
    escrow: TaskEscrow,
    service: SettlementService,
) -> None:
    task_id, escrow_task_id = _funded_task(db, service, chain, token, escrow, accounts[1], 50 * UNIT)
    _accept(db, task_id, accounts[2], 2)
    service.close_epoch(task_id)
    service.drive()  # signed
    anvil.stop()  # the chain node goes away (its state is saved on a clean stop)
    with pytest.raises(Exception):  # noqa: B017 - whatever the transport says, nothing is recorded
        service.drive()
    anvil.start()
    for _ in range(50):
        try:
            service.drive()
        except Exception:  # the node may still be starting
            time.sleep(0.1)
            continue
        if service.epoch(task_id, 1).status == "confirmed":
            break
    assert service.epoch(task_id, 1).status == "confirmed"
    assert _roots_posted(chain, escrow, escrow_task_id) == [1]


_CHAOS = """
import sys, time
from pathlib import Path
from datacoop.chain.client import ChainClient
from datacoop.chain.deploy import load_deployment
from datacoop.chain.outbox import Relay
from datacoop.chain.setup import ChainHandle
from datacoop.client import derive_dev_accounts
from datacoop.db import Database
from datacoop.settlement.service import SettlementService
from datacoop.errors import Conflict
db = Database(sys.argv[1], schema=sys.argv[5] or None)
chain = ChainClient(sys.argv[2])
op = derive_dev_accounts(1)[0]
dep = load_deployment(Path(sys.argv[3]))
svc = SettlementService(db, ChainHandle(chain, Relay(db, chain, op), op, dep))
print("ready", flush=True)
while True:
    try:
        svc.close_epoch(int(sys.argv[4]))
    except Conflict:
        pass
    svc.drive()
    time.sleep(0.01)
"""


# Where each round's worker is killed: None is a random moment; the others wait, reading the database, for
# that point of a posting (an epoch closed and not yet posted; its transaction signed; or broadcast).
_KILL_AT: tuple[str | None, ...] = (None, "pending", "signed", "sent")


def _reached(db: Database, service: SettlementService, task_id: int, stage: str) -> bool:
    if stage == "pending":
        return any(e.status == "pending" for e in service.epochs(task_id))
    statuses = ("signed", "sent") if stage == "signed" else (stage,)
    with db.transaction() as s:
        return s.scalars(select(ChainTx.id).where(ChainTx.status.in_(statuses))).first() is not None


@pytest.mark.slow
def test_sigkill_at_random_points_never_posts_an_epoch_twice(
    db: Database,
    tmp_path: Path,
    chain: ChainClient,
    token: TestToken,
    escrow: TaskEscrow,
    anvil: AnvilNode,
    service: SettlementService,
    accounts: list[LocalAccount],
) -> None:
    task_id, escrow_task_id = _funded_task(db, service, chain, token, escrow, accounts[1], 1_000 * UNIT)
    deployment_file = tmp_path / "deployment.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    chain.rpc("evm_setAutomine", [False])
    chain.rpc("evm_setIntervalMining", [1])  # a block a second: postings spend time in flight
    kills, targeted, open_at_kill = 0, 0, 0
    rng = random.Random(7)
    for round_ in range(8):
        _accept(db, task_id, accounts[2 + round_ % 3], 2)
        stage = _KILL_AT[round_ % len(_KILL_AT)]
        stderr_path = tmp_path / f"chaos-{round_}.err"
        with stderr_path.open("w") as stderr:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    _CHAOS,
                    db.url,
                    anvil.url,
                    str(deployment_file),
                    str(task_id),
                    db.schema or "",
                ],
                env=env,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready", stderr_path.read_text()
        if stage is None:
            time.sleep(rng.uniform(0.05, 1.5))  # anywhere: before closing, or in closing, signing, sending...
        else:  # at a chosen point of the posting, however slow the machine
            deadline = time.monotonic() + 60
            while not _reached(db, service, task_id, stage) and proc.poll() is None:
                assert time.monotonic() < deadline, f"the posting never reached {stage!r} in 60 s"
                time.sleep(0.005)
            targeted += 1
        assert proc.poll() is None, f"the worker died by itself: {stderr_path.read_text()}"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        kills += 1
        in_flight = any(e.status in ("pending", "posted") for e in service.epochs(task_id))
        open_at_kill += in_flight and stage is not None
    # A last, orderly process finishes whatever is open. Each epoch waits for the one before and for its
    # confirmations (a block a second), so this takes tens of seconds, more on a loaded machine.
    deadline, settled = time.monotonic() + 240, False
    while not settled and time.monotonic() < deadline:
        with contextlib.suppress(Conflict):
            service.close_epoch(task_id)
        service.drive()
        if all(e.status in ("confirmed", "failed") for e in service.epochs(task_id)):
            with contextlib.suppress(Conflict):
                settled = service.close_epoch(task_id) is None
        time.sleep(0.05)
    assert settled, f"still open after 240 s: {[(e.number, e.status) for e in service.epochs(task_id)]}"
    posted = _roots_posted(chain, escrow, escrow_task_id)
    confirmed = [e.number for e in service.epochs(task_id) if e.status == "confirmed"]
    assert kills == 8 and targeted == 6 and open_at_kill >= 4  # most targeted kills caught one in flight
    assert posted == sorted(set(posted)) == confirmed  # each epoch on chain exactly once, and recorded
    total = sum(int(c.cumulative) for a in accounts[2:5] for c in service.claims(a.address))
    assert total == 16 * REWARD == escrow.task(escrow_task_id).total


def test_posting_replaced_under_its_nonce_fails_and_the_next_epoch_reposts(
    db: Database, service: SettlementService, chain: ChainClient, token: TestToken, escrow: TaskEscrow,
    accounts: list[LocalAccount],
) -> None:  # fmt: skip
    # Prepare: the posting is in the pool when the operator key sends something else under its nonce
    operator = accounts[0]
    task_id, escrow_task_id = _funded_task(db, service, chain, token, escrow, accounts[1], 50 * UNIT)
    _accept(db, task_id, accounts[2], 2)
    chain.rpc("evm_setAutomine", [False])
    service.close_epoch(task_id)
    service.drive()  # signed
    service.drive()  # sent
    with db.transaction() as s:
        sent = s.scalars(select(ChainTx).where(ChainTx.status == "sent")).one()
        tx_hash, nonce = sent.tx_hash, sent.nonce
    chain.rpc("anvil_dropTransaction", [tx_hash])
    other = operator.sign_transaction({
        "to": operator.address, "value": 0, "gas": 21_000, "nonce": nonce, "chainId": chain.chain_id,
        "maxFeePerGas": 10**11, "maxPriorityFeePerGas": 10**9,
    })  # fmt: skip
    chain.w3.eth.send_raw_transaction(other.raw_transaction)
    chain.rpc("evm_mine", [])
    chain.rpc("evm_setAutomine", [True])
    # Execute
    failed = service.drive()
    again = service.settle(task_id)
    # Assert
    assert [(v.number, v.status) for v in failed] == [(1, "failed")]
    assert failed[0].error is not None and "replaced" in failed[0].error
    assert again is not None and (again.number, again.status, again.total) == (1, "confirmed", 2 * REWARD)
    assert _roots_posted(chain, escrow, escrow_task_id) == [1]


def test_a_restart_after_confirmation_posts_nothing_more(
    db: Database, handle: ChainHandle, chain: ChainClient, token: TestToken, escrow: TaskEscrow,
    accounts: list[LocalAccount],
) -> None:  # fmt: skip
    service = SettlementService(db, handle)
    task_id, escrow_task_id = _funded_task(db, service, chain, token, escrow, accounts[1], 50 * UNIT)
    _accept(db, task_id, accounts[2], 2)
    assert service.settle(task_id) is not None
    restarted = SettlementService(
        db, ChainHandle(chain, Relay(db, chain, accounts[0]), accounts[0], handle.deployment)
    )
    for _ in range(5):
        restarted.drive()
    assert restarted.close_epoch(task_id) is None
    assert _roots_posted(chain, escrow, escrow_task_id) == [1]
    assert [e.status for e in restarted.epochs(task_id)] == ["confirmed"]
