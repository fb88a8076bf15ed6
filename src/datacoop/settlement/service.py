"""Settlement: epochs of cumulative entitlements, posted on chain exactly once, and claims.

Closing an epoch is one database transaction: it records the earnings of newly
accepted items (and useful votes), takes them oldest first while the escrow
covers them, writes the epoch with every account's cumulative entitlement, and
enqueues the ``postRoot`` transaction in the outbox under the epoch's key. So a
crash leaves either nothing or an epoch whose posting the relay will finish;
the relay never sends one record twice, and the contract refuses an epoch
number it has already seen. An epoch's status follows its outbox record:

    pending (not in a canonical block yet) → posted (mined) → confirmed (N blocks)
    posted ──reorged out──► pending            pending ──refused/reverted──► failed

A failed epoch releases its earnings to the next one. Claims always use the
newest *confirmed* epoch, whose tree is rebuilt from the stored entitlements and
checked against the stored root.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from datacoop import merkle
from datacoop.chain.contracts import TaskEscrow
from datacoop.chain.outbox import POSTING_STATUS, enqueue
from datacoop.chain.setup import ChainHandle
from datacoop.clock import Clock, utc_now
from datacoop.db import Database
from datacoop.db.models import (
    ChainTx,
    Earning,
    Epoch,
    EpochEntitlement,
    Participant,
    Submission,
    Task,
    TaskFunding,
)
from datacoop.errors import Conflict, Forbidden, NotFound, Unavailable, Unprocessable
from datacoop.identity.addresses import normalize_address
from datacoop.settlement import rules as settlement
from datacoop.tasks.states import SubmissionState

__all__ = ["EpochView", "SettlementService", "VoteReward"]

log = logging.getLogger("datacoop.settlement")

OPEN = ("pending", "posted")
_STATUS_OF_TX = POSTING_STATUS


@dataclass(frozen=True)
class VoteReward:
    """A useful vote's reward, as the review service reports it."""

    vote_id: int
    task_id: int
    validator: str
    amount: int


@dataclass(frozen=True)
class EpochView:
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

    @classmethod
    def of(cls, e: Epoch) -> EpochView:
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
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "epoch": self.number,
            "status": self.status,
            "root": self.root,
            "total": str(self.total),
            "added": str(self.added),
            "earnings": self.earnings,
            "shortfall": str(self.shortfall),
            "tx_hash": self.tx_hash,
            "error": self.error,
        }


def _no_votes(_s: Session, _task_id: int) -> list[VoteReward]:
    return []


class SettlementService:
    """Epochs, their posting through the outbox, claims and statements for one node.

    Args:
        chain: the node's chain; without one every call that needs it says so (Unavailable).
        vote_rewards: the review service's useful-vote rewards for a task, read in the caller's session.
    """

    def __init__(
        self,
        db: Database,
        chain: ChainHandle | None,
        *,
        clock: Clock = utc_now,
        vote_rewards: Callable[[Session, int], Iterable[VoteReward]] = _no_votes,
        epoch_interval: timedelta | None = None,
    ) -> None:
        self._db, self._chain, self._clock, self._vote_rewards = db, chain, clock, vote_rewards
        self._interval, self._last_round = epoch_interval, clock()

    def tick(self, _worker: str = "") -> bool:
        """One round of the node's settlement loop: close epochs when the schedule says, move postings on.

        Returns True when something changed (the loop then comes back at once).
        """
        if self._chain is None:
            return False
        now = self._clock()
        closed = False
        if self._interval and now - self._last_round >= self._interval:
            self._last_round = now
            for task_id in self.funded_tasks():
                try:
                    closed |= self.close_epoch(task_id) is not None
                except Conflict:  # still posting the last one: it goes next round
                    continue
        return bool(self.sync()) or closed

    def funded_tasks(self) -> list[int]:
        with self._db.transaction() as s:
            return list(s.scalars(select(TaskFunding.task_id).order_by(TaskFunding.task_id)).all())

    # --- funding ----------------------------------------------------------------------------

    def _need_chain(self) -> ChainHandle:
        if self._chain is None:
            raise Unavailable(
                "this node runs without a chain (chain = 'off'): nothing can settle", field="chain"
            )
        return self._chain

    def _escrow(self) -> TaskEscrow:
        chain = self._need_chain()
        return TaskEscrow(chain.client, chain.deployment.escrow)

    def is_operator(self, address: str) -> bool:
        return self._chain is not None and normalize_address(address) == self._chain.operator.address

    def link_escrow(self, requester: Participant, task_id: int, escrow_task_id: int) -> dict[str, Any]:
        """Tie a task to the TaskEscrow task its requester opened (and funded) on chain."""
        chain, escrow = self._need_chain(), self._escrow()
        if not 1 <= escrow_task_id <= escrow.task_count():
            # the body names it, not the URL: the task exists, the request cannot be carried out
            raise Unprocessable(
                f"escrow task {escrow_task_id} does not exist on chain", field="escrow_task_id"
            )
        on_chain = escrow.task(escrow_task_id)
        with self._db.transaction() as s:
            task = s.get(Task, task_id)
            if task is None:
                raise NotFound(f"task {task_id} does not exist", field="task_id")
            if task.requester_id != requester.id:
                raise Forbidden("only the task's requester can fund it", field="task_id")
            if normalize_address(on_chain.requester) != normalize_address(task.requester.address):
                raise Forbidden(
                    f"escrow task {escrow_task_id} was opened by {on_chain.requester}, "
                    f"not by this task's requester {task.requester.address}",
                    field="escrow_task_id",
                )
            existing = s.get(TaskFunding, task_id)
            if existing is not None:
                if existing.escrow_task_id == escrow_task_id and existing.escrow == escrow.address:
                    return self._funding_json(existing, on_chain.funded)
                raise Conflict(
                    f"task {task_id} is already funded by escrow task {existing.escrow_task_id}",
                    field="task_id",
                )
            taken = s.scalar(
                select(TaskFunding.task_id).where(
                    TaskFunding.chain_id == chain.client.chain_id,
                    TaskFunding.escrow == escrow.address,
                    TaskFunding.escrow_task_id == escrow_task_id,
                )
            )
            if taken is not None:
                raise Conflict(
                    f"escrow task {escrow_task_id} already funds task {taken}", field="escrow_task_id"
                )
            row = TaskFunding(
                task_id=task_id,
                chain_id=chain.client.chain_id,
                escrow=escrow.address,
                escrow_task_id=escrow_task_id,
                token=normalize_address(on_chain.token),
                linked_at=self._clock(),
            )
            s.add(row)
            s.flush()
            return self._funding_json(row, on_chain.funded)

    @staticmethod
    def _funding_json(row: TaskFunding, funded: int) -> dict[str, Any]:
        return {
            "task_id": row.task_id,
            "escrow": row.escrow,
            "escrow_task_id": row.escrow_task_id,
            "token": row.token,
            "funded": str(funded),
        }

    # --- epochs -----------------------------------------------------------------------------

    def close_epoch(self, task_id: int) -> EpochView | None:
        """Close the task's next epoch and enqueue its posting; None when there is nothing to pay."""
        chain, escrow = self._need_chain(), self._escrow()
        now = self._clock()
        with self._db.transaction() as s:
            funding = s.scalar(select(TaskFunding).where(TaskFunding.task_id == task_id).with_for_update())
            if funding is None:
                raise Conflict(
                    f"task {task_id} is not funded on chain yet (link its escrow task first)", field="task_id"
                )
            open_epoch = s.scalar(select(Epoch).where(Epoch.task_id == task_id, Epoch.status.in_(OPEN)))
            if open_epoch is not None:
                raise Conflict(
                    f"epoch {open_epoch.number} of task {task_id} is still {open_epoch.status}; "
                    "the next one closes after it is confirmed",
                    field="task_id",
                )
            self._record_earnings(s, task_id, now)
            last = self._last_confirmed(s, task_id)
            previous = self._entitlements(s, last.id) if last else {}
            waiting = s.scalars(
                select(Earning)
                .where(Earning.task_id == task_id, Earning.epoch_id.is_(None))
                .order_by(Earning.id)
            ).all()
            funded = escrow.task(funding.escrow_task_id).funded
            plan = settlement.allocate(
                previous, (settlement.Earning(e.id, e.account, e.amount) for e in waiting), funded=funded
            )
            if not plan.taken:
                if plan.waiting:
                    log.warning("task %s: %s owed but the escrow is spent; top up", task_id, plan.shortfall)
                return None
            number = (last.number if last else 0) + 1
            tree = merkle.build(sorted(plan.entitlements.items()))
            epoch = Epoch(
                task_id=task_id,
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
                EpochEntitlement(epoch_id=epoch.id, account=a, cumulative=v)
                for a, v in plan.entitlements.items()
            )
            taken = {e.id for e in plan.taken}
            for row in waiting:
                if row.id in taken:
                    row.epoch_id = epoch.id
            req = escrow.post_root(funding.escrow_task_id, number, tree.root, plan.total)
            enqueue(
                s,
                key=epoch.tx_key,
                chain_id=chain.client.chain_id,
                sender=chain.operator.address,
                to=req.to,
                data=req.data,
                now=now,
            )
            s.flush()
            return EpochView.of(epoch)

    def _record_earnings(self, s: Session, task_id: int, now: datetime) -> None:
        task = s.get(Task, task_id)
        assert task is not None
        if task.reward_per_item > 0:
            accepted = s.execute(
                select(Submission.id, Participant.address)
                .join(Participant, Participant.id == Submission.contributor_id)
                .where(Submission.task_id == task_id, Submission.state == SubmissionState.ACCEPTED.value)
                .where(
                    ~select(Earning.id)
                    .where(Earning.kind == "item", Earning.source_id == Submission.id)
                    .exists()
                )
                .order_by(Submission.id)
            ).all()
            s.add_all(
                Earning(
                    task_id=task_id,
                    account=normalize_address(address),
                    kind="item",
                    source_id=sub_id,
                    amount=task.reward_per_item,
                    created_at=now,
                )
                for sub_id, address in accepted
            )
        for reward in self._vote_rewards(s, task_id):
            if reward.amount <= 0:
                continue
            account = normalize_address(reward.validator)
            known = s.scalar(
                select(Earning.id).where(
                    Earning.kind == "vote", Earning.source_id == reward.vote_id, Earning.account == account
                )
            )
            if known is None:
                s.add(
                    Earning(
                        task_id=task_id,
                        account=account,
                        kind="vote",
                        source_id=reward.vote_id,
                        amount=reward.amount,
                        created_at=now,
                    )
                )
        s.flush()

    @staticmethod
    def _last_confirmed(s: Session, task_id: int) -> Epoch | None:
        return s.scalar(
            select(Epoch)
            .where(Epoch.task_id == task_id, Epoch.status == "confirmed")
            .order_by(Epoch.number.desc())
            .limit(1)
        )

    @staticmethod
    def _entitlements(s: Session, epoch_id: int) -> dict[str, int]:
        rows = s.execute(
            select(EpochEntitlement.account, EpochEntitlement.cumulative).where(
                EpochEntitlement.epoch_id == epoch_id
            )
        ).all()
        return {a: int(v) for a, v in rows}

    def sync(self) -> list[EpochView]:
        """Bring every open epoch's status up to date from the outbox (the chain follower's work)."""
        self._need_chain()
        changed: list[EpochView] = []
        now = self._clock()
        with self._db.transaction() as s:
            for epoch in s.scalars(select(Epoch).where(Epoch.status.in_(OPEN)).order_by(Epoch.id)).all():
                tx = s.scalar(select(ChainTx).where(ChainTx.key == epoch.tx_key))
                if tx is None:  # pragma: no cover - written in the same transaction as the epoch
                    continue
                status = _STATUS_OF_TX[tx.status]
                if (status, tx.tx_hash) == (epoch.status, epoch.tx_hash):
                    continue
                if status == "pending" and epoch.status == "posted":
                    log.warning(
                        "epoch %s of task %s was reorged out; back to pending", epoch.number, epoch.task_id
                    )
                epoch.status, epoch.tx_hash, epoch.updated_at = status, tx.tx_hash, now
                if status == "failed":
                    epoch.error = tx.error or "the posting transaction reverted"
                    for earning in s.scalars(select(Earning).where(Earning.epoch_id == epoch.id)).all():
                        earning.epoch_id = None  # the next epoch takes them
                changed.append(EpochView.of(epoch))
        return changed

    def drive(self) -> list[EpochView]:
        """One step of the outbox, then :meth:`sync`: for a caller with no chain follower running (the
        CLI, tests); a no-op step while another process holds the outbox."""
        self._need_chain().relay.step()
        return self.sync()

    def settle(self, task_id: int, *, timeout: float = 120) -> EpochView | None:
        """Close an epoch and drive it until it is confirmed or failed (the CLI's `epoch close --wait`)."""
        import time

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

    def epoch(self, task_id: int, number: int, *, include_failed: bool = False) -> EpochView:
        with self._db.transaction() as s:
            query = select(Epoch).where(Epoch.task_id == task_id, Epoch.number == number)
            if not include_failed:
                query = query.where(Epoch.status != "failed")
            row = s.scalar(query.order_by(Epoch.id.desc()).limit(1))
            if row is None:
                raise NotFound(f"task {task_id} has no epoch {number}", field="epoch")
            return EpochView.of(row)

    def epochs(self, task_id: int) -> list[EpochView]:
        with self._db.transaction() as s:
            rows = s.scalars(select(Epoch).where(Epoch.task_id == task_id).order_by(Epoch.id)).all()
            return [EpochView.of(r) for r in rows]

    # --- claims and statements ----------------------------------------------------------------

    def claims(self, address: str) -> list[dict[str, Any]]:
        """Per task owing ``address``: the cumulative amount, its proof and what is claimed on chain."""
        account = normalize_address(address)
        escrow = self._escrow()
        out: list[dict[str, Any]] = []
        with self._db.transaction() as s:
            task_ids = s.scalars(
                select(Epoch.task_id)
                .join(EpochEntitlement, EpochEntitlement.epoch_id == Epoch.id)
                .where(EpochEntitlement.account == account, Epoch.status == "confirmed")
                .distinct()
                .order_by(Epoch.task_id)
            ).all()
            for task_id in task_ids:
                epoch = self._last_confirmed(s, task_id)
                funding = s.get(TaskFunding, task_id)
                assert epoch is not None and funding is not None
                values = self._entitlements(s, epoch.id)
                if account not in values:  # pragma: no cover - entitlements only grow
                    continue
                tree = merkle.build(sorted(values.items()))
                if tree.root != epoch.root:
                    raise Conflict(
                        f"task {task_id} epoch {epoch.number}: the stored entitlements do not "
                        "rebuild the posted root",
                        field="epoch",
                    )
                claimed = escrow.claimed(funding.escrow_task_id, account)
                cumulative = values[account]
                out.append(
                    {
                        "task_id": task_id,
                        "escrow": funding.escrow,
                        "escrow_task_id": funding.escrow_task_id,
                        "vault": escrow.vault(funding.escrow_task_id).address,  # where claims go
                        "epoch": epoch.number,
                        "account": account,
                        "cumulative": str(cumulative),
                        "claimed": str(claimed),
                        "claimable": str(max(cumulative - claimed, 0)),
                        "proof": tree.proofs_by_account()[account],
                        "root": epoch.root,
                    }
                )
        return out

    def statement(self, address: str) -> dict[str, Any]:
        """Per task and epoch, which items and votes earned ``address`` what (and what still waits)."""
        account = normalize_address(address)
        with self._db.transaction() as s:
            rows = s.execute(
                select(Earning, Epoch.number, Epoch.status)
                .outerjoin(Epoch, Epoch.id == Earning.epoch_id)
                .where(Earning.account == account)
                .order_by(Earning.task_id, Earning.id)
            ).all()
        groups: dict[tuple[int, int | None], dict[str, Any]] = {}
        for earning, number, status in rows:
            key = (earning.task_id, number)
            group = groups.setdefault(
                key,
                {
                    "task_id": earning.task_id,
                    "epoch": number,
                    "status": status or "waiting",
                    "total": 0,
                    "items": [],
                },
            )
            group["total"] += earning.amount
            group["items"].append(
                {"kind": earning.kind, "id": earning.source_id, "amount": str(earning.amount)}
            )
        for group in groups.values():
            group["total"] = str(group["total"])
        return {"account": account, "epochs": list(groups.values())}

    def spend(self, requester: Participant, task_id: int) -> dict[str, Any]:
        """The requester's view: funded, posted, paid, remaining and cost per accepted item."""
        escrow = self._escrow()
        with self._db.transaction() as s:
            task = s.get(Task, task_id)
            if task is None:
                raise NotFound(f"task {task_id} does not exist", field="task_id")
            if task.requester_id != requester.id and not self.is_operator(requester.address):
                raise Forbidden("only the task's requester sees its spending", field="task_id")
            funding = s.get(TaskFunding, task_id)
            if funding is None:
                raise Conflict(f"task {task_id} is not funded on chain yet", field="task_id")
            last = self._last_confirmed(s, task_id)
            items = (
                s.scalar(
                    select(func.count())
                    .select_from(Earning)
                    .join(Epoch, Epoch.id == Earning.epoch_id)
                    .where(Earning.task_id == task_id, Earning.kind == "item", Epoch.status == "confirmed")
                )
                or 0
            )
            waiting = (
                s.scalar(
                    select(func.count())
                    .select_from(Earning)
                    .where(Earning.task_id == task_id, Earning.epoch_id.is_(None))
                )
                or 0
            )
        on_chain = escrow.task(funding.escrow_task_id)
        posted = last.total if last else 0
        return {
            "task_id": task_id,
            "escrow_task_id": funding.escrow_task_id,
            "funded": str(on_chain.funded),
            "posted": str(posted),
            "paid": str(on_chain.paid),
            "remaining": str(on_chain.funded - posted),
            "accepted_items_paid": int(items),
            "cost_per_item": str(posted // items) if items else None,
            "earnings_waiting": int(waiting),
            "top_up_needed": str(last.shortfall) if last and last.shortfall else "0",
        }
