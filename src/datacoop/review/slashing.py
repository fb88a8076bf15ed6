"""Slashing proposals the review service records, executed on chain by the operator through the outbox.

A proposal names the validator, the reason and its keccak hash (the ``reasonHash`` the contract logs).
Executing it writes the ``ValidatorStaking.slash`` call to the transactional outbox in the same
database transaction that marks the proposal sent, so a restart can never slash twice.
``on_slashed`` hears the validator's address when the slash is queued and when it is confirmed, so a
cached stake reading (:class:`~datacoop.review.stakes.CachedStakes`) is dropped at both moments.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from datacoop.chain.contracts import ValidatorStaking
from datacoop.chain.setup import ChainHandle, is_operator, require_chain
from datacoop.clock import Clock, utc_now
from datacoop.db import Database
from datacoop.db.models import ChainTx, SlashingProposal, Validator
from datacoop.errors import Conflict, NotFound
from datacoop.identity.addresses import normalize_address

__all__ = ["SlashingDesk", "SlashingPublic"]

_TX_STATUS = {"confirmed": "confirmed", "reverted": "failed", "failed": "failed"}


class SlashingPublic(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    validator: str
    reason: str
    reason_hash: str
    amount: str  # decimal text: uint256
    status: str  # proposed | sent | confirmed | failed
    tx_hash: str | None
    created_at: datetime


class SlashingDesk:
    """The operator's view of slashing proposals, and their execution on chain."""

    def __init__(
        self,
        db: Database,
        chain: ChainHandle | None,
        *,
        amount: int,
        clock: Clock = utc_now,
        on_slashed: Callable[[str], None] | None = None,
    ) -> None:
        self._db, self._chain, self.amount, self._clock = db, chain, amount, clock
        self._on_slashed = on_slashed or (lambda _address: None)

    def is_operator(self, address: str) -> bool:
        return is_operator(self._chain, normalize_address(address))

    def list(self) -> list[SlashingPublic]:
        self.refresh()
        with self._db.transaction() as s:
            rows = s.scalars(select(SlashingProposal).order_by(SlashingProposal.id)).all()
            return [self._public(s, p) for p in rows]

    def execute(self, proposal_id: int) -> SlashingPublic:
        """Queue ``slash(validator, amount, reasonHash)`` from the operator's key; the relay sends it."""
        chain = self._need_chain()
        now = self._clock()
        with self._db.transaction() as s:
            p = s.get(SlashingProposal, proposal_id, with_for_update={"of": SlashingProposal})
            if p is None:
                raise NotFound(f"there is no slashing proposal {proposal_id}", field="proposal_id")
            if p.status != "proposed":
                raise Conflict(f"slashing proposal {proposal_id} is already {p.status}", field="proposal_id")
            validator = s.get(Validator, p.validator_id)
            assert validator is not None
            staking = ValidatorStaking(chain.client, chain.deployment.staking)
            call = staking.slash(validator.participant.address, self.amount, p.reason_hash)
            key = f"slash:{chain.client.chain_id}:{staking.address}:{p.id}"
            chain.enqueue(s, key=key, to=call.to, data=call.data, now=now)
            p.status, p.tx_key, p.updated_at = "sent", key, now
            s.flush()
            public = self._public(s, p)
        self._on_slashed(public.validator)
        return public

    def refresh(self) -> None:
        """Bring sent proposals up to date with their outbox transactions."""
        now = self._clock()
        slashed: list[str] = []
        with self._db.transaction() as s:
            sent = s.scalars(select(SlashingProposal).where(SlashingProposal.status == "sent")).all()
            for p in sent:
                tx = s.scalar(select(ChainTx).where(ChainTx.key == p.tx_key))
                if tx is not None and tx.status in _TX_STATUS:
                    p.status, p.updated_at = _TX_STATUS[tx.status], now
                    if p.status == "confirmed":
                        validator = s.get(Validator, p.validator_id)
                        assert validator is not None
                        slashed.append(validator.participant.address)
        for address in slashed:
            self._on_slashed(address)

    def _need_chain(self) -> ChainHandle:
        return require_chain(self._chain, "slashing needs one")

    def _public(self, s: Session, p: SlashingProposal) -> SlashingPublic:
        validator = s.get(Validator, p.validator_id)
        assert validator is not None
        tx = s.scalar(select(ChainTx).where(ChainTx.key == p.tx_key)) if p.tx_key else None
        return SlashingPublic(
            id=p.id,
            validator=validator.participant.address,
            reason=p.reason,
            reason_hash=p.reason_hash,
            amount=str(self.amount),
            status=p.status,
            tx_hash=tx.tx_hash if tx else None,
            created_at=p.created_at,
        )
