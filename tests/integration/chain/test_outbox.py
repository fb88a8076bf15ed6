"""The outbox under the faults RELIABILITY.md lists: crash before send, drop, stuck mempool, reorg."""

from __future__ import annotations

from eth_account.signers.local import LocalAccount

from datacoop.chain.client import ChainClient
from datacoop.chain.contracts import TestToken
from datacoop.chain.outbox import Relay
from datacoop.db import Database
from datacoop.db.models import ChainTx


def _mint(relay: Relay, token: TestToken, to: str, amount: int, key: str) -> ChainTx:
    req = token.mint(to, amount)
    return relay.submit(key, to=req.to, data=req.data)


def test_same_key_is_one_transaction(relay: Relay, token: TestToken, accounts: list[LocalAccount]) -> None:
    first = _mint(relay, token, accounts[3].address, 5, "mint-once")
    again = _mint(relay, token, accounts[3].address, 5, "mint-once")
    assert first.id == again.id
    assert relay.drive("mint-once").status == "confirmed"
    relay.drive(_mint(relay, token, accounts[3].address, 5, "mint-once").key)
    assert token.balance_of(accounts[3].address) == 5


def test_crash_after_signing_resends_the_same_bytes(
    db: Database, chain: ChainClient, relay: Relay, token: TestToken, accounts: list[LocalAccount]
) -> None:
    # Prepare: sign (nonce and bytes committed) and "crash" before the broadcast
    row = _mint(relay, token, accounts[4].address, 7, "crash-before-send")
    relay._advance(row.id)
    signed = relay.get("crash-before-send")
    assert signed.status == "signed" and signed.tx_hash
    # Execute: a new process's relay resumes
    fresh = Relay(db, chain, accounts[0])
    done = fresh.drive("crash-before-send")
    # Assert
    assert done.status == "confirmed"
    assert done.tx_hash == signed.tx_hash and done.nonce == signed.nonce
    assert token.balance_of(accounts[4].address) == 7


def test_dropped_transaction_is_rebroadcast(
    chain: ChainClient, relay: Relay, token: TestToken, accounts: list[LocalAccount]
) -> None:
    chain.rpc("evm_setAutomine", [False])
    row = _mint(relay, token, accounts[5].address, 3, "dropped")
    relay._advance(row.id)  # signed
    relay._advance(row.id)  # sent
    sent = relay.get("dropped")
    chain.rpc("anvil_dropTransaction", [sent.tx_hash])
    assert not chain.knows(sent.tx_hash or "")
    relay._advance(row.id)  # sees it gone: the same bytes again
    assert chain.knows(sent.tx_hash or "")
    chain.rpc("evm_mine", [])
    chain.rpc("evm_setAutomine", [True])
    done = relay.drive("dropped")
    assert (done.status, done.tx_hash, len(done.hashes)) == ("confirmed", sent.tx_hash, 1)
    assert token.balance_of(accounts[5].address) == 3


def test_stuck_transaction_is_replaced_under_the_same_nonce(
    db: Database, chain: ChainClient, token: TestToken, accounts: list[LocalAccount]
) -> None:
    # Prepare: no mining, and a relay that calls a transaction stuck at once
    from datetime import timedelta

    relay = Relay(db, chain, accounts[0], stuck_after=timedelta(seconds=-1))
    chain.rpc("evm_setAutomine", [False])
    row = _mint(relay, token, accounts[2].address, 11, "stuck")
    relay._advance(row.id)
    relay._advance(row.id)
    relay._advance(row.id)  # still pending in the pool: bump
    bumped = relay.get("stuck")
    # Execute
    chain.rpc("evm_mine", [])
    chain.rpc("evm_setAutomine", [True])
    done = relay.drive("stuck")
    # Assert: two hashes under one nonce, exactly one mined, paid once
    assert len(bumped.hashes) == 2 and bumped.max_fee is not None
    assert done.status == "confirmed" and done.tx_hash in bumped.hashes
    assert token.balance_of(accounts[2].address) == 11


def test_reorg_after_mining_goes_back_and_confirms_again(
    db: Database, chain: ChainClient, token: TestToken, accounts: list[LocalAccount]
) -> None:
    relay = Relay(db, chain, accounts[0], confirmations=3)
    for _ in range(3):  # bury the deployment deeper than the reorg reaches
        chain.rpc("evm_mine", [])
    row = _mint(relay, token, accounts[1].address, 13, "reorged")
    for _ in range(3):
        relay._advance(row.id)
    mined = relay.get("reorged")
    assert mined.status == "mined" and mined.block_number is not None
    # Execute: a depth-2 reorg drops the block with our transaction
    chain.rpc("anvil_reorg", [2, []])
    relay._advance(row.id)
    assert relay.get("reorged").status == "sent"
    relay._advance(row.id)  # gone from the node: the same bytes again, mined anew (automine)
    for _ in range(2):
        chain.rpc("evm_mine", [])
    done = relay.drive("reorged", timeout=30)
    # Assert
    assert done.status == "confirmed"
    assert done.tx_hash == mined.tx_hash and done.block_hash != mined.block_hash
    assert token.balance_of(accounts[1].address) == 13  # minted exactly once


def _operator_calls(chain: ChainClient, sender: str) -> list[str]:
    """The calldata of every transaction ``sender`` got mined, in block order."""
    calls = []
    for number in range(chain.block_number() + 1):
        block = chain.w3.eth.get_block(number, full_transactions=True)
        for tx in block["transactions"]:
            if tx["from"] == sender:  # type: ignore[index]
                calls.append("0x" + bytes(tx["input"]).hex())  # type: ignore[index]
    return calls


def test_relays_stepped_from_many_threads_send_each_intent_exactly_once(
    db: Database, chain: ChainClient, relay: Relay, token: TestToken, accounts: list[LocalAccount]
) -> None:
    # Prepare: 24 intents, and 8 request threads each stepping a relay of its own (as GET routes did)
    import threading

    rows = [_mint(relay, token, accounts[3].address, i + 1, f"race-{i}") for i in range(24)]
    before = _operator_calls(chain, accounts[0].address)
    relays = [Relay(db, chain, accounts[0]) for _ in range(8)]

    def hammer(r: Relay) -> None:
        while any(r.get(row.key).status not in ("confirmed", "reverted", "failed") for row in rows):
            r.step()

    # Execute
    threads = [threading.Thread(target=hammer, args=(r,)) for r in relays]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    # Assert: every intent mined once, nonces consecutive, nothing left behind
    sent = _operator_calls(chain, accounts[0].address)[len(before) :]
    assert sorted(sent) == sorted(row.data for row in rows)
    done = [relay.get(row.key) for row in rows]
    assert {d.status for d in done} == {"confirmed"}
    nonces = sorted(d.nonce for d in done if d.nonce is not None)
    assert nonces == list(range(nonces[0], nonces[0] + 24))
    assert token.balance_of(accounts[3].address) == sum(range(1, 25))


def test_a_stale_writer_cannot_overwrite_a_signed_record(
    db: Database, relay: Relay, token: TestToken, accounts: list[LocalAccount]
) -> None:
    # Prepare: a writer reads the record while it is pending, then another signs it
    from sqlalchemy.orm.exc import StaleDataError

    row = _mint(relay, token, accounts[4].address, 1, "fenced")
    session = db._sessions()
    stale = session.get(ChainTx, row.id)
    assert stale is not None and stale.status == "pending"
    relay._advance(row.id)
    signed = relay.get("fenced")
    # Execute: the stale writer saves its own nonce and signature
    stale.nonce, stale.raw, stale.status = (signed.nonce or 0) + 1, "0xdead", "signed"
    try:
        session.commit()
        saved = True
    except StaleDataError:
        session.rollback()
        saved = False
    finally:
        session.close()
    # Assert: refused by the database; the record keeps the first signature
    assert not saved
    after = relay.get("fenced")
    assert (after.nonce, after.raw) == (signed.nonce, signed.raw)


def test_only_the_lease_holder_steps_and_a_dead_holder_is_replaced(
    db: Database, chain: ChainClient, relay: Relay, token: TestToken, accounts: list[LocalAccount]
) -> None:
    # Prepare: another live process of another host holds the outbox
    import subprocess
    import sys

    from datacoop.chain.lease import OutboxLease

    other = OutboxLease(db, relay.lease.name)
    other.holder = "another-host:4242"
    relay.close()
    assert other.hold()
    row = _mint(relay, token, accounts[5].address, 9, "leased")
    # Execute / Assert: this process does nothing while the other holds the lease
    assert relay.step() is False and relay.get("leased").status == "pending"
    # A holder on this host whose process is gone is replaced at once, without waiting for expiry
    dead = subprocess.run(
        [sys.executable, "-c", "from datacoop.holders import holder_name; print(holder_name())"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    other.release()
    gone = OutboxLease(db, relay.lease.name)
    gone.holder = dead.stdout.strip()
    assert gone.hold()
    assert relay.step() is True
    assert relay.drive(row.key).status == "confirmed"
    assert token.balance_of(accounts[5].address) == 9
