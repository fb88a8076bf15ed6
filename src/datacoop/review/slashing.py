"""Slashing proposals the review service records, taken on chain in two steps through the outbox.

A proposal names the validator, the reason and its keccak hash. Slashing follows ValidatorStaking's
incident rules (see ``contracts/README.md``):

1. :meth:`SlashingDesk.execute` (the operator's decision) queues ``recordIncident(validator, amount,
   reasonHash)``: the dispute outcome is on chain, capped by the contract, and the validator's
   appeal period starts.
2. :meth:`SlashingDesk.sync`, the chain follower's work, queues ``executeSlash(reasonHash)`` once the
   appeal period is over with no appeal; an appealed incident waits for the arbiter (the admin),
   whose ruling ``sync`` reads back (``confirmed`` or ``dismissed``).

Each step writes its outbox row in the same database transaction that moves the proposal on, under a
key naming the proposal, so a restart can never record or slash twice. ``on_slashed`` hears the
validator's address when the incident is recorded (its hold no longer counts as stake), when the
slash is queued and when it is confirmed, so a cached stake reading
(:class:`~datacoop.review.stakes.CachedStakes`) is dropped at each moment.

Statuses: ``proposed → sent → recorded → executing → confirmed``, with ``appealed``, ``dismissed``
and ``failed`` beside them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from datacoop.chain.contracts import Incident, IncidentState, ValidatorStaking
from datacoop.chain.setup import ChainHandle, is_operator, require_chain
from datacoop.clock import Clock, utc_now
from datacoop.db import Database
from datacoop.db.models import ChainTx, SlashingProposal, Validator
from datacoop.errors import Conflict, NotFound
from datacoop.identity.addresses import normalize_address

__all__ = ["SlashingDesk", "SlashingPublic"]

_FAILED = ("reverted", "failed")
_ON_CHAIN = ("recorded", "appealed", "executing", "confirmed", "dismissed")  # an incident exists
# What a recorded incident's state on chain makes of its proposal.
_BY_STATE = {IncidentState.APPEALED: "appealed", IncidentState.EXECUTED: "confirmed",
             IncidentState.DISMISSED: "dismissed"}  # fmt: skip


class SlashingPublic(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    validator: str
    reason: str
    reason_hash: str
    amount: str  # decimal text: uint256; once recorded, what the incident holds (capped on chain)
    status: str  # proposed | sent | recorded | appealed | executing | confirmed | dismissed | failed
    tx_hash: str | None
    created_at: datetime


class SlashingDesk:
    """The operator's view of slashing proposals, and their two steps on chain.

    Args:
        amount: token base units a proposal asks to slash (the contract caps each incident).
        poll_s: seconds between readings of one open incident's state (an appeal, a ruling).
    """

    def __init__(
        self,
        db: Database,
        chain: ChainHandle | None,
        *,
        amount: int,
        clock: Clock = utc_now,
        on_slashed: Callable[[str], None] | None = None,
        poll_s: float = 15.0,
    ) -> None:
        self._db, self._chain, self.amount, self._clock = db, chain, amount, clock
        self._on_slashed = on_slashed or (lambda _address: None)
        self._poll_s = poll_s
        self._read_at: dict[int, float] = {}  # proposal id -> time.monotonic() of its last chain read

    def is_operator(self, address: str) -> bool:
        return is_operator(self._chain, normalize_address(address))

    def list(self, *, after: int | None = None, limit: int | None = None) -> list[SlashingPublic]:
        """Proposals after id ``after`` (a keyset page), oldest first, at most ``limit``."""
        self.refresh()
        query = select(SlashingProposal).order_by(SlashingProposal.id).limit(limit)
        if after is not None:
            query = query.where(SlashingProposal.id > after)
        with self._db.transaction() as s:
            return [self._public(s, p) for p in s.scalars(query).all()]

    def execute(self, proposal_id: int) -> SlashingPublic:
        """Record the proposal's outcome on chain (``recordIncident``); the slash follows after the appeal
        period (:meth:`sync`)."""
        chain = self._need_chain()
        now = self._clock()
        with self._db.transaction() as s:
            p = s.get(SlashingProposal, proposal_id, with_for_update={"of": SlashingProposal})
            if p is None:
                raise NotFound(f"there is no slashing proposal {proposal_id}", field="proposal_id")
            if p.status != "proposed":
                raise Conflict(f"slashing proposal {proposal_id} is already {p.status}", field="proposal_id")
            staking = self._staking(chain)
            call = staking.record_incident(self._address(s, p), self.amount, p.reason_hash)
            key = f"incident:{chain.client.chain_id}:{staking.address}:{p.id}"
            chain.enqueue(s, key=key, to=call.to, data=call.data, now=now)
            p.status, p.tx_key, p.updated_at = "sent", key, now
            s.flush()
            return self._public(s, p)

    def refresh(self) -> None:
        """Bring proposals waiting on a transaction up to date with the outbox (database rows only)."""
        now = self._clock()
        slashed: list[str] = []
        with self._db.transaction() as s:
            waiting = s.scalars(
                select(SlashingProposal).where(SlashingProposal.status.in_(("sent", "executing")))
            )
            for p in waiting.all():
                tx = s.scalar(select(ChainTx).where(ChainTx.key == p.tx_key))
                if tx is None or tx.status not in ("confirmed", *_FAILED):
                    continue
                if p.status == "sent":
                    p.status = "recorded" if tx.status == "confirmed" else "failed"
                    slashed += [self._address(s, p)] if p.status == "recorded" else []  # held: counts no more
                elif tx.status == "confirmed":
                    p.status = "confirmed"
                    slashed.append(self._address(s, p))
                else:
                    p.status = "recorded"  # someone else may have executed it first: sync reads the chain
                p.updated_at = now
        for address in slashed:
            self._on_slashed(address)

    def sync(self) -> bool:
        """The chain follower's step: statuses from the outbox, then each open incident from the chain;
        queues ``executeSlash`` for those whose appeal period passed unappealed. True if anything moved."""
        if self._chain is None:
            return False
        self.refresh()
        chain, now, slashed = self._chain, self._clock(), []
        with self._db.transaction() as s:
            open_ = s.scalars(
                select(SlashingProposal).where(SlashingProposal.status.in_(("recorded", "appealed")))
            ).all()
            due = [p for p in open_ if time.monotonic() - self._read_at.get(p.id, -1e9) >= self._poll_s]
            if not due:
                return False
            chain_time = int(chain.client.w3.eth.get_block("latest")["timestamp"])
            moved = [p for p in due if self._advance(s, chain, p, chain_time, now)]
            slashed = [self._address(s, p) for p in moved if p.status in ("executing", "confirmed")]
        for address in slashed:
            self._on_slashed(address)
        return bool(moved)

    def _advance(
        self, s: Session, chain: ChainHandle, p: SlashingProposal, chain_time: int, now: datetime
    ) -> bool:
        """Move one recorded proposal after its incident on chain; whether it moved."""
        staking = self._staking(chain)
        incident = staking.incident(p.reason_hash)
        self._read_at[p.id] = time.monotonic()
        status = _BY_STATE.get(incident.state, p.status)
        if incident.state is IncidentState.PENDING and chain_time >= incident.appealable_until:
            call = staking.execute_slash(p.reason_hash)
            key = f"slash:{chain.client.chain_id}:{staking.address}:{p.id}"
            row = chain.enqueue(s, key=key, to=call.to, data=call.data, now=now)
            # The same key finds our earlier attempt: failed while the incident is still pending, it stays so.
            status = "failed" if row.status in _FAILED else "executing"
            p.tx_key = key
            self._read_at.pop(p.id, None)
        if status == p.status:
            return False
        p.status, p.updated_at = status, now
        return True

    def _need_chain(self) -> ChainHandle:
        return require_chain(self._chain, "slashing needs one")

    @staticmethod
    def _staking(chain: ChainHandle) -> ValidatorStaking:
        return ValidatorStaking(chain.client, chain.deployment.staking)

    @staticmethod
    def _address(s: Session, p: SlashingProposal) -> str:
        validator = s.get(Validator, p.validator_id)
        assert validator is not None
        return validator.participant.address

    def _incident(self, p: SlashingProposal) -> Incident | None:
        if self._chain is None or p.status not in _ON_CHAIN:
            return None
        return self._staking(self._chain).incident(p.reason_hash)

    def _public(self, s: Session, p: SlashingProposal) -> SlashingPublic:
        tx = s.scalar(select(ChainTx).where(ChainTx.key == p.tx_key)) if p.tx_key else None
        incident = self._incident(p)
        return SlashingPublic(
            id=p.id,
            validator=self._address(s, p),
            reason=p.reason,
            reason_hash=p.reason_hash,
            amount=str(incident.amount if incident else self.amount),
            status=p.status,
            tx_hash=tx.tx_hash if tx else None,
            created_at=p.created_at,
        )
