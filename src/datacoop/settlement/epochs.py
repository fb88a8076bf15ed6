"""Epochs: closing one, following its posting through the outbox, and reading them back.

Closing an epoch reads the escrow task's funded amount from the chain first (no RPC is made while a
database transaction is open), then is one database transaction, in named steps: lock the task's
funding, refuse while its last epoch is still open, record the earnings of newly accepted items and
useful votes, allocate the waiting earnings oldest first while the escrow covers them, write the
epoch with every account's cumulative entitlement, and enqueue its ``postRoot`` in the outbox under
the epoch's key. :meth:`Epochs.sync` then moves each open epoch's status after its outbox record,
and a failed epoch gives its earnings back to the next one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from datacoop import merkle
from datacoop.chain.contracts import EscrowTask, TaskEscrow
from datacoop.chain.outbox import POSTING_STATUS
from datacoop.chain.setup import ChainHandle
from datacoop.db.models import ChainTx, Earning, Epoch, EpochEntitlement, Task, TaskFunding
from datacoop.errors import Conflict, NotFound, Unavailable
from datacoop.settlement import rules as settlement
from datacoop.settlement.earnings import VoteRewards, no_votes, record_earnings, waiting_earnings
from datacoop.settlement.handles import Handles
from datacoop.settlement.schemas import EpochPublic
from datacoop.tasks.schemas import TokenPublic
from datacoop.tasks.service import task_token
from datacoop.webhooks import events

__all__ = ["OPEN", "EpochView", "Epochs", "entitlements", "last_confirmed"]

log = logging.getLogger("datacoop.settlement")

OPEN = ("pending", "posted")
_STATUS_OF_TX = POSTING_STATUS


@dataclass(frozen=True)
class EpochView:
    """One epoch of a task as the API shows it: its root, totals and where its posting stands."""

    task_id: int
    number: int
    status: str
    root: str
    total: int
    added: int
    earnings: int
    shortfall: int
    tx_hash: str | None
    error: str | None
    token: TokenPublic | None = None
    id: int = 0  # the row's id: a page's cursor (a failed attempt's number is reused)

    @classmethod
    def of(cls, e: Epoch) -> EpochView:
        s = object_session(e)  # the task's token, from the session the epoch was read in
        task = s.get(Task, e.task_id) if s is not None else None
        return cls(
            e.task_id,
            e.number,
            e.status,
            e.root,
            e.total,
            e.added,
            e.earnings,
            e.shortfall,
            e.tx_hash,
            e.error,
            task_token(task) if task is not None else None,
            e.id,
        )

    def public(self) -> EpochPublic:
        """The epoch as the API answers it (amounts as decimal text)."""
        return EpochPublic(
            task_id=self.task_id,
            epoch=self.number,
            status=self.status,
            root=self.root,
            total=str(self.total),
            added=str(self.added),
            earnings=self.earnings,
            shortfall=str(self.shortfall),
            tx_hash=self.tx_hash,
            error=self.error,
            token=self.token,
            id=self.id,
        )


def last_confirmed(s: Session, task_id: int) -> Epoch | None:
    """The task's newest confirmed epoch, the one claims use."""
    return s.scalar(
        select(Epoch)
        .where(Epoch.task_id == task_id, Epoch.status == "confirmed")
        .order_by(Epoch.number.desc())
        .limit(1)
    )


def entitlements(s: Session, epoch_id: int) -> dict[str, int]:
    """Every account's cumulative entitlement in the epoch."""
    rows = s.execute(
        select(EpochEntitlement.account, EpochEntitlement.cumulative).where(
            EpochEntitlement.epoch_id == epoch_id
        )
    ).all()
    return {a: int(v) for a, v in rows}


class Epochs:
    """Closes epochs, follows their postings and reads them back.

    Args:
        vote_rewards: the review service's useful-vote rewards for a task, read in the caller's session.
    """

    def __init__(self, handles: Handles, vote_rewards: VoteRewards = no_votes) -> None:
        self._h, self._vote_rewards = handles, vote_rewards

    # --- closing ----------------------------------------------------------------------------

    def close_epoch(self, task_id: int) -> EpochView | None:
        """Close the task's next epoch and enqueue its posting; None when there is nothing to pay."""
        chain, escrow = self._h.need_chain(), self._h.escrow()
        now = self._h.clock()
        with self._h.db.transaction() as s:  # a plain read: refuse early, learn which escrow task pays
            escrow_task_id = _funding(s, task_id).escrow_task_id
            _refuse_while_open(s, task_id)
        # The chain is read before the transaction below, never under the funding row's lock. An escrow
        # task's funded amount only grows (top-ups; claims raise ``paid``, not this), so allocating
        # against the value read here never pays more than the escrow holds when the root is posted;
        # its reward per item never changes.
        on_chain = escrow.task(escrow_task_id)
        with self._h.db.transaction() as s:
            funding = _funding(s, task_id, lock=True)
            _refuse_while_open(s, task_id)
            _mark_disputed(s, task_id, on_chain, now)
            record_earnings(s, task_id, now, self._vote_rewards)
            last = last_confirmed(s, task_id)
            waiting = waiting_earnings(s, task_id)
            plan = _allocate(s, last, _within_cap(waiting, on_chain.reward_per_item), funded=on_chain.funded)
            if not plan.taken:
                if plan.waiting:
                    log.warning("task %s: %s owed but the escrow is spent; top up", task_id, plan.shortfall)
                return None
            number = _last_posted_number(s, task_id) + 1
            epoch = _write_epoch(s, chain, funding, number, plan, now)
            _take(waiting, plan, epoch.id)
            _enqueue_posting(s, chain, escrow, funding, epoch, _accepted_count(waiting, plan), now)
            return EpochView.of(epoch)

    # --- following postings -----------------------------------------------------------------

    def sync(self) -> list[EpochView]:
        """Bring every open epoch's status up to date from the outbox (the chain follower's work)."""
        self._h.need_chain()
        changed: list[EpochView] = []
        now = self._h.clock()
        with self._h.db.transaction() as s:
            for epoch in s.scalars(select(Epoch).where(Epoch.status.in_(OPEN)).order_by(Epoch.id)).all():
                if _follow(s, epoch, now):
                    changed.append(EpochView.of(epoch))
        return changed

    def drive(self) -> list[EpochView]:
        """One step of the outbox, then :meth:`sync`: for a caller with no chain follower running (the
        CLI, tests); a no-op step while another process holds the outbox."""
        self._h.need_chain().relay.step()
        return self.sync()

    def settle(self, task_id: int, *, timeout: float = 120) -> EpochView | None:
        """Close an epoch and drive it until it is confirmed or failed (the CLI's `epoch close --wait`)."""
        view = self.close_epoch(task_id)
        if view is None:
            return None
        deadline = time.monotonic() + timeout
        while True:
            self.drive()
            current = self.epoch(task_id, view.number, include_failed=True)
            if current.status in ("confirmed", "failed"):
                return current
            if time.monotonic() > deadline:
                raise Unavailable(
                    f"epoch {view.number} still {current.status} after {timeout}s", field="chain"
                )
            time.sleep(0.05)

    # --- reading ----------------------------------------------------------------------------

    def epoch(self, task_id: int, number: int, *, include_failed: bool = False) -> EpochView:
        """The task's epoch ``number`` (its newest try, when a failed one was closed again)."""
        with self._h.db.transaction() as s:
            query = select(Epoch).where(Epoch.task_id == task_id, Epoch.number == number)
            if not include_failed:
                query = query.where(Epoch.status != "failed")
            row = s.scalar(query.order_by(Epoch.id.desc()).limit(1))
            if row is None:
                raise NotFound(f"task {task_id} has no epoch {number}", field="epoch")
            return EpochView.of(row)

    def epochs(self, task_id: int, *, after: int | None = None, limit: int | None = None) -> list[EpochView]:
        """The task's epochs after id ``after`` (a keyset page), failed ones included, oldest first."""
        query = select(Epoch).where(Epoch.task_id == task_id).order_by(Epoch.id).limit(limit)
        if after is not None:
            query = query.where(Epoch.id > after)
        with self._h.db.transaction() as s:
            return [EpochView.of(r) for r in s.scalars(query).all()]


# --- the steps of closing an epoch ------------------------------------------------------------


def _funding(s: Session, task_id: int, *, lock: bool = False) -> TaskFunding:
    """The task's funding (locked for this transaction with ``lock``); Conflict when it is not funded.

    A task's link to its escrow task is written once and never changed, so the escrow task read
    before the locking transaction is the one the locked row names.
    """
    query = select(TaskFunding).where(TaskFunding.task_id == task_id)
    funding = s.scalar(query.with_for_update() if lock else query)
    if funding is None:
        raise Conflict(
            f"task {task_id} is not funded on chain yet (link its escrow task first)", field="task_id"
        )
    return funding


def _mark_disputed(s: Session, task_id: int, on_chain: EscrowTask, now: datetime) -> None:
    """The task's newest confirmed epoch becomes ``disputed`` when the chain froze its root (it will
    never pay); its earnings wait again, so this epoch pays and counts them afresh."""
    last = last_confirmed(s, task_id)
    if last is None or not on_chain.frozen or on_chain.epoch != last.number:
        return
    log.warning(
        "task %s: epoch %s was disputed on chain; its earnings go to the next epoch", task_id, last.number
    )
    last.status, last.error, last.updated_at = "disputed", "root disputed on chain", now
    for earning in s.scalars(select(Earning).where(Earning.epoch_id == last.id)).all():
        earning.epoch_id = None
    s.flush()


def _refuse_while_open(s: Session, task_id: int) -> None:
    """Conflict while the task's last epoch is still pending or posted."""
    open_epoch = s.scalar(select(Epoch).where(Epoch.task_id == task_id, Epoch.status.in_(OPEN)))
    if open_epoch is not None:
        raise Conflict(
            f"epoch {open_epoch.number} of task {task_id} is still {open_epoch.status}; "
            "the next one closes after it is confirmed",
            field="task_id",
        )


def _allocate(
    s: Session, last: Epoch | None, waiting: Sequence[Earning], *, funded: int
) -> settlement.Allocation:
    """The rules' allocation of the waiting earnings on top of the last confirmed entitlements."""
    previous = entitlements(s, last.id) if last else {}
    return settlement.allocate(
        previous, (settlement.Earning(e.id, e.account, e.amount) for e in waiting), funded=funded
    )


def _within_cap(waiting: Sequence[Earning], reward_per_item: int) -> list[Earning]:
    """The oldest waiting earnings whose sum stays within (accepted items among them) x the escrow's
    reward per item, the cap ``postRoot`` enforces; the first that does not fit stops (it waits for
    more accepted items: a vote's reward rides on the items' headroom)."""
    taken: list[Earning] = []
    added = items = 0
    for earning in waiting:
        counted = items + (earning.kind == "item")
        if added + earning.amount > counted * reward_per_item:
            log.warning("task %s: earning %s waits: above accepted x reward", earning.task_id, earning.id)
            break
        added, items = added + earning.amount, counted
        taken.append(earning)
    return taken


def _accepted_count(waiting: Sequence[Earning], plan: settlement.Allocation) -> int:
    """How many accepted items the epoch pays for the first time: the count ``postRoot`` commits."""
    taken = {e.id for e in plan.taken}
    return sum(1 for row in waiting if row.id in taken and row.kind == "item")


def _last_posted_number(s: Session, task_id: int) -> int:
    """The task's newest epoch number the chain has seen (confirmed or disputed there; 0 for none)."""
    number = s.scalar(
        select(Epoch.number)
        .where(Epoch.task_id == task_id, Epoch.status.in_(("confirmed", "disputed")))
        .order_by(Epoch.number.desc())
        .limit(1)
    )
    return int(number or 0)


def _write_epoch(
    s: Session,
    chain: ChainHandle,
    funding: TaskFunding,
    number: int,
    plan: settlement.Allocation,
    now: datetime,
) -> Epoch:
    """The pending epoch row, its outbox key and every account's cumulative entitlement."""
    tree = merkle.build(sorted(plan.entitlements.items()))
    epoch = Epoch(
        task_id=funding.task_id,
        number=number,
        status="pending",
        root=tree.root,
        total=plan.total,
        added=plan.added,
        earnings=len(plan.taken),
        shortfall=plan.shortfall,
        tx_key="",
        created_at=now,
        updated_at=now,
    )
    s.add(epoch)
    s.flush()
    escrow_key = f"{chain.client.chain_id}:{funding.escrow}:{funding.escrow_task_id}"
    epoch.tx_key = f"settle:{escrow_key}:{number}:{epoch.id}"
    s.add_all(
        EpochEntitlement(epoch_id=epoch.id, account=a, cumulative=v) for a, v in plan.entitlements.items()
    )
    return epoch


def _take(waiting: Sequence[Earning], plan: settlement.Allocation, epoch_id: int) -> None:
    """Put the earnings the plan took into the epoch; the rest keep waiting."""
    taken = {e.id for e in plan.taken}
    for row in waiting:
        if row.id in taken:
            row.epoch_id = epoch_id


def _enqueue_posting(
    s: Session,
    chain: ChainHandle,
    escrow: TaskEscrow,
    funding: TaskFunding,
    epoch: Epoch,
    accepted: int,
    now: datetime,
) -> None:
    """Enqueue the epoch's ``postRoot`` (with its ``accepted`` item count) in the outbox, under its key."""
    req = escrow.post_root(funding.escrow_task_id, epoch.number, epoch.root, epoch.total, accepted)
    chain.enqueue(s, key=epoch.tx_key, to=req.to, data=req.data, now=now)
    s.flush()


# --- following a posting ------------------------------------------------------------------------


def _follow(s: Session, epoch: Epoch, now: datetime) -> bool:
    """Move the epoch's status after its outbox record; True when it changed."""
    tx = s.scalar(select(ChainTx).where(ChainTx.key == epoch.tx_key))
    if tx is None:  # pragma: no cover - written in the same transaction as the epoch
        return False
    status = _STATUS_OF_TX[tx.status]
    if (status, tx.tx_hash) == (epoch.status, epoch.tx_hash):
        return False
    if status == "pending" and epoch.status == "posted":
        log.warning("epoch %s of task %s was reorged out; back to pending", epoch.number, epoch.task_id)
    epoch.status, epoch.tx_hash, epoch.updated_at = status, tx.tx_hash, now
    if status == "confirmed":  # the root can be claimed from: the requester's webhooks hear of it once
        events.epoch_posted(s, epoch, now)
    if status == "failed":
        epoch.error = tx.error or "the posting transaction reverted"
        for earning in s.scalars(select(Earning).where(Earning.epoch_id == epoch.id)).all():
            earning.epoch_id = None  # the next epoch takes them
    return True
