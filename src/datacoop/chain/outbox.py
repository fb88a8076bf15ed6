"""The transactional outbox: every operator transaction is sent once, whatever crashes.

A caller records its intent with :func:`enqueue` inside the same database
transaction as the change that needs it, under an idempotency key; asking
twice returns the first record. The :class:`Relay` then moves each record
along::

    pending ──sign (nonce fixed, raw bytes stored)──► signed ──broadcast──► sent
    sent ──receipt──► mined ──N confirmations──► confirmed | reverted
    sent ──dropped from the mempool──► re-broadcast the same bytes
    sent ──nonce used by a transaction sent elsewhere──► failed (the caller decides what to redo)
    sent ──stuck──► fee bump: re-signed under the SAME nonce (every hash kept) ──► signed
    mined ──block no longer canonical (reorg)──► sent
    pending ──gas estimate reverts──► failed (never signed, no nonce used)

The nonce and the signed bytes are committed before anything is broadcast, so a
restart re-sends the very same transaction (or a replacement under its nonce)
and can never pay twice under a new one. One transaction per sender is in
flight at a time, so each estimate sees the effects of the one before.

One writer: :meth:`Relay.step` runs only in the process that holds the sender's
:class:`~datacoop.chain.lease.OutboxLease`, one thread at a time. Below that, the
database refuses what a second writer could still do wrong: a row's ``version``
fences a stale writer's update (its nonce, signature or status is never saved,
and it has broadcast nothing of its own), and (chain, sender, nonce) is unique.
Request handlers never step the relay; they enqueue and read.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import Any

from eth_typing import HexStr
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from web3 import Web3
from web3.exceptions import BlockNotFound, ContractLogicError, Web3RPCError

from datacoop.chain.client import ChainClient, Receipt
from datacoop.chain.keys import Signer
from datacoop.chain.lease import OutboxLease, process_lock
from datacoop.chain.networks import FeePolicy
from datacoop.clock import Clock, utc_now
from datacoop.db import Database
from datacoop.db.models import ChainTx
from datacoop.errors import NotFound, Unavailable

__all__ = ["FINAL", "IN_FLIGHT", "POSTING_STATUS", "Relay", "enqueue"]

log = logging.getLogger("datacoop.outbox")

IN_FLIGHT = ("signed", "sent", "mined")
FINAL = ("confirmed", "reverted", "failed")
# What a record's status means for the thing it posts (an epoch, a royalty round): not in a canonical
# block yet → pending; mined → posted; past the confirmations → confirmed; refused or reverted → failed.
POSTING_STATUS = {
    "pending": "pending",
    "signed": "pending",
    "sent": "pending",
    "mined": "posted",
    "confirmed": "confirmed",
    "failed": "failed",
    "reverted": "failed",
}


def enqueue(
    s: Session,
    *,
    key: str,
    chain_id: int,
    sender: str,
    to: str | None,
    data: str,
    value: int = 0,
    now: datetime,
) -> ChainTx:
    """Record the intent to send a transaction; the same key returns the existing record."""
    existing = s.scalar(select(ChainTx).where(ChainTx.key == key))
    if existing is not None:
        return existing
    row = ChainTx(
        key=key, chain_id=chain_id, sender=sender, to=to, data=data, value=value, hashes=[],
        status="pending", attempts=0, created_at=now, updated_at=now,
    )  # fmt: skip
    s.add(row)
    s.flush()
    return row


class Relay:
    """Drives outbox records to a final state against one chain with one signing key.

    ``signer`` is any :class:`~datacoop.chain.keys.Signer` (a dev ``LocalAccount``, a keystore's, an
    external signer); ``fees`` prices new transactions and their bumps (a network profile's).
    """

    def __init__(
        self,
        db: Database,
        chain: ChainClient,
        signer: Signer,
        *,
        confirmations: int = 1,
        fees: FeePolicy = FeePolicy(),
        stuck_after: timedelta = timedelta(seconds=30),
        clock: Clock = utc_now,
    ) -> None:
        self._db, self._chain, self._signer, self.fees = db, chain, signer, fees
        self.confirmations, self.stuck_after, self._clock = max(confirmations, 1), stuck_after, clock
        self.lease = OutboxLease(db, f"outbox:{chain.chain_id}:{signer.address}")
        self._lock = process_lock(self.lease.name)

    def submit(self, key: str, *, to: str | None, data: str, value: int = 0) -> ChainTx:
        """Enqueue in a transaction of its own (for callers with no other change to commit)."""
        with self._db.transaction() as s:
            return enqueue(
                s, key=key, chain_id=self._chain.chain_id, sender=self._signer.address, to=to, data=data,
                value=value, now=self._clock(),
            )  # fmt: skip

    def get(self, key: str) -> ChainTx:
        with self._db.transaction() as s:
            row = s.scalar(select(ChainTx).where(ChainTx.key == key))
            if row is None:
                raise NotFound(f"no outbox transaction {key!r}", field="key")
            return row

    def drive(self, key: str, *, timeout: float = 120) -> ChainTx:
        """Step the outbox until ``key`` is final (used where a caller waits for its own transaction)."""
        deadline = time.monotonic() + timeout
        while True:
            row = self.get(key)
            if row.status in FINAL:
                return row
            if time.monotonic() > deadline:
                raise Unavailable(
                    f"outbox transaction {key!r} still {row.status} after {timeout}s", field="chain"
                )
            if not self.step():
                time.sleep(0.02)

    def step(self) -> bool:
        """Advance every open record of this sender once; True if anything changed.

        Does nothing (False) while another process holds the outbox: waiting callers then wait for it.
        """
        with self._lock:
            if not self.lease.hold():
                return False
            with self._db.transaction() as s:
                ids = s.scalars(
                    select(ChainTx.id)
                    .where(ChainTx.sender == self._signer.address, ChainTx.status.not_in(FINAL))
                    .order_by(ChainTx.id)
                ).all()
            return any([self._advance_fenced(tx_id) for tx_id in ids])

    def close(self) -> None:
        """Hand the outbox to the next process at once (else it waits for the lease to expire)."""
        self.lease.release()

    def _advance_fenced(self, tx_id: int) -> bool:
        try:
            return self._advance(tx_id)
        except (StaleDataError, IntegrityError) as exc:  # another writer got there first: nothing saved
            log.warning("outbox record %s changed under this writer; left to the next step (%s)", tx_id, exc)
            return False

    def _advance(self, tx_id: int) -> bool:
        with self._db.transaction() as s:
            row = s.get(ChainTx, tx_id)
            assert row is not None
            status = row.status
            if status == "pending":
                if self._in_flight(s):
                    return False
                self._sign(s, row)
            elif status == "signed":
                self._broadcast(row)
                row.status = "sent"
            elif status == "sent":
                self._watch_sent(row)
            elif status == "mined":
                self._watch_mined(row)
            changed = row.status != status
            if changed:
                row.updated_at = self._clock()
            return changed

    def _in_flight(self, s: Session) -> bool:
        count = s.scalar(
            select(func.count())
            .select_from(ChainTx)
            .where(ChainTx.sender == self._signer.address, ChainTx.status.in_(IN_FLIGHT))
        )
        return bool(count)

    # --- pending → signed ---------------------------------------------------------------------

    def _tx_dict(self, row: ChainTx) -> dict[str, Any]:
        tx: dict[str, Any] = {
            "from": row.sender,
            "data": row.data,
            "value": row.value,
            "chainId": row.chain_id,
        }
        if row.to:
            tx["to"] = row.to
        return tx

    def _sign(self, s: Session, row: ChainTx) -> None:
        w3 = self._chain.w3
        tx = self._tx_dict(row)
        try:
            row.gas_limit = int(w3.eth.estimate_gas(tx) * 1.25)  # type: ignore[arg-type]
        except ContractLogicError as exc:
            row.status, row.error = "failed", f"the contract refused: {exc.message or exc}"
            return
        chain_next = w3.eth.get_transaction_count(Web3.to_checksum_address(row.sender), "pending")
        ours = s.scalar(select(func.max(ChainTx.nonce)).where(ChainTx.sender == row.sender))
        row.nonce = max(chain_next, (ours + 1) if ours is not None else 0)
        base = w3.eth.get_block("latest").get("baseFeePerGas", 0)
        row.max_fee, row.priority_fee = self.fees.initial(base)
        self._sign_current(row)
        row.status = "signed"

    def _sign_current(self, row: ChainTx) -> None:
        tx = self._tx_dict(row) | {
            "nonce": row.nonce,
            "gas": row.gas_limit,
            "maxFeePerGas": row.max_fee,
            "maxPriorityFeePerGas": row.priority_fee,
        }
        tx.pop("from")
        signed = self._signer.sign_transaction(tx)
        row.raw = "0x" + bytes(signed.raw_transaction).hex()
        row.tx_hash = "0x" + bytes(signed.hash).hex()
        row.hashes = [*row.hashes, row.tx_hash]
        row.attempts += 1

    # --- signed/sent → mined ------------------------------------------------------------------

    def _broadcast(self, row: ChainTx) -> None:
        assert row.raw is not None
        try:
            self._chain.w3.eth.send_raw_transaction(HexStr(row.raw))
        except Web3RPCError as exc:
            # "already known" / "nonce too low" mean an earlier send of this nonce got there first;
            # the receipt search over every hash settles which one.
            row.error = str(exc)[:500]

    def _find_receipt(self, row: ChainTx) -> Receipt | None:
        for tx_hash in reversed(row.hashes):
            receipt = self._chain.receipt(tx_hash)
            if receipt is not None:
                return receipt
        return None

    def _watch_sent(self, row: ChainTx) -> None:
        receipt = self._find_receipt(row)
        if receipt is not None:
            row.status, row.tx_hash = "mined", receipt.tx_hash
            row.block_number, row.block_hash = receipt.block_number, receipt.block_hash
            row.contract_address = receipt.contract_address
            self._watch_mined(row, receipt)
            return
        assert row.tx_hash is not None
        if not self._chain.knows(row.tx_hash):
            if self._nonce_taken(row):  # another transaction of this sender used the nonce
                row.status = "failed"
                row.error = f"replaced: nonce {row.nonce} was used by a transaction not sent by this outbox"
                return
            self._broadcast(row)  # dropped from the mempool: the same bytes again
        elif self._clock() - row.updated_at > self.stuck_after:
            self._bump(row)

    def _nonce_taken(self, row: ChainTx) -> bool:
        """The sender's mined nonce is past ours while none of our hashes has a receipt."""
        assert row.nonce is not None
        mined = self._chain.w3.eth.get_transaction_count(Web3.to_checksum_address(row.sender), "latest")
        return mined > row.nonce and self._find_receipt(row) is None

    def _bump(self, row: ChainTx) -> None:
        """Re-sign under the same nonce with higher fees; broadcast only once the new hash is saved."""
        assert row.max_fee is not None and row.priority_fee is not None
        bumped = self.fees.bump(row.max_fee, row.priority_fee)
        if bumped is None:  # at the fee cap: wait for the base fee to fall rather than overpay
            return
        row.max_fee, row.priority_fee = bumped
        self._sign_current(row)
        row.status = "signed"

    # --- mined → confirmed -------------------------------------------------------------------

    def _watch_mined(self, row: ChainTx, receipt: Receipt | None = None) -> None:
        assert row.block_number is not None
        try:
            block_hash = "0x" + bytes(self._chain.w3.eth.get_block(row.block_number)["hash"]).hex()
        except BlockNotFound:
            block_hash = None  # the chain got shorter than our block: reorged out
        if block_hash != row.block_hash:
            row.status, row.block_number, row.block_hash = "sent", None, None  # reorged out
            return
        head = self._chain.block_number()
        if head - row.block_number + 1 < self.confirmations:
            return
        receipt = receipt or self._find_receipt(row)
        if receipt is None:  # pragma: no cover - the block is canonical, so its receipt exists
            return
        row.status = "confirmed" if receipt.status == 1 else "reverted"
