"""Gasless claims: the node relays a contributor's signed claim through its outbox and earns its fee.

The contributor signs an EIP-712 :class:`~datacoop.chain.gasless.ClaimAuthorisation` (their
cumulative entitlement, the relayer, its fee, a deadline) and holds no native gas. The node checks
it before anything is sent (the signer is the account, the amount is what the claimable root
pays, the fee within the vault's cap, the relayer this node or anyone), finds the proof itself and
enqueues ``TaskVault.claimWithSig`` under a key naming the vault, the account and the cumulative
amount: that amount can be paid once, so the key is sent at most once too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from eth_account import Account
from eth_account.messages import encode_typed_data
from sqlalchemy import select

from datacoop.chain.gasless import (
    ANY_RELAYER,
    MAX_RELAYER_FEE_BPS,
    ClaimAuthorisation,
    SignedClaim,
    claim_typed_data,
)
from datacoop.db.models import ChainTx
from datacoop.errors import Conflict, InvalidInput
from datacoop.identity.addresses import normalize_address
from datacoop.settlement.handles import Handles
from datacoop.settlement.schemas import ClaimPublic, ClaimRelayCreate, ClaimRelayPublic

__all__ = ["ClaimRelay", "Relayed"]


class ClaimsReader(Protocol):
    """What the relay needs of :class:`~datacoop.settlement.claims.Claims`: an account's claims."""

    def claims(self, address: str) -> list[ClaimPublic]: ...


@dataclass(frozen=True)
class Relayed:
    """A gasless claim handed to the outbox: its key, and the transaction once sent."""

    key: str
    status: str
    tx_hash: str | None


class ClaimRelay:
    """Checks signed claims and enqueues them; the outbox's follower sends them with the operator's key."""

    def __init__(self, handles: Handles, claims: ClaimsReader) -> None:
        self._h, self._claims = handles, claims

    def relay_request(self, task_id: int, body: ClaimRelayCreate) -> ClaimRelayPublic:
        """:meth:`relay` for the API's request body (the signature as 0x-hex ``r || s || v``)."""
        auth = ClaimAuthorisation(body.chain_id, body.vault, body.account, body.cumulative, body.relayer,
                                  body.fee, body.deadline)  # fmt: skip
        done = self.relay(task_id, SignedClaim.from_signature(auth, body.signature))
        return ClaimRelayPublic(key=done.key, status=done.status, tx_hash=done.tx_hash)

    def relay(self, task_id: int, signed: SignedClaim) -> Relayed:
        """Enqueue ``signed``'s claim on ``task_id`` (the same claim twice answers with the first record).

        Raises:
            InvalidInput: the signature, the vault, the chain, the relayer or the fee is wrong (its field).
            Conflict: the account has nothing claimable at that cumulative amount now.
        """
        chain, escrow = self._h.need_chain(), self._h.escrow()
        auth, operator = signed.auth, normalize_address(chain.operator.address)
        vault, account = normalize_address(auth.vault), normalize_address(auth.account)
        key = f"relay:{auth.chain_id}:{vault}:{account}:{auth.cumulative}"
        _check_signature(signed)
        with self._h.db.transaction() as s:
            known = s.scalar(select(ChainTx).where(ChainTx.key == key))
            if known is not None:  # that amount can be paid once: the same claim is the same record
                return Relayed(known.key, known.status, known.tx_hash)
        claim = _claimable(self._claims.claims(auth.account), task_id, auth.cumulative)
        _check_terms(auth, claim, chain.client.chain_id, operator)
        req = escrow.vault(claim.escrow_task_id).claim_with_sig(signed, claim.proof)
        with self._h.db.transaction() as s:
            row = chain.enqueue(s, key=key, to=req.to, data=req.data, now=self._h.clock())
            return Relayed(row.key, row.status, row.tx_hash)


def _check_terms(auth: ClaimAuthorisation, claim: ClaimPublic, chain_id: int, operator: str) -> None:
    """InvalidInput (naming the field) unless the vault, chain, relayer and fee are ones this node sends."""
    if normalize_address(auth.vault) != normalize_address(claim.vault):
        raise InvalidInput(
            f"vault must be task {claim.task_id}'s {claim.vault}, got {auth.vault}", field="vault"
        )
    if auth.chain_id != chain_id:
        raise InvalidInput(f"chain_id must be {chain_id}, got {auth.chain_id}", field="chain_id")
    if normalize_address(auth.relayer) not in (operator, ANY_RELAYER):
        raise InvalidInput(f"relayer must be {operator} or the zero address", field="relayer")
    owed = auth.cumulative - int(claim.claimed)
    cap = owed * MAX_RELAYER_FEE_BPS // 10_000
    if auth.fee > cap:
        raise InvalidInput(f"fee must be at most {cap} ({MAX_RELAYER_FEE_BPS} bps of {owed})", field="fee")


def _check_signature(signed: SignedClaim) -> None:
    """InvalidInput (``signature``) unless the account itself signed the authorisation."""
    message = encode_typed_data(full_message=claim_typed_data(signed.auth))
    try:
        signer = Account.recover_message(message, vrs=(signed.v, signed.r, signed.s))
    except Exception as exc:  # eth_keys raises several types for a malformed signature
        raise InvalidInput(f"signature does not recover: {exc}", field="signature") from exc
    if normalize_address(signer) != normalize_address(signed.auth.account):
        raise InvalidInput(f"signature is by {signer}, not by {signed.auth.account}", field="signature")


def _claimable(claims: list[ClaimPublic], task_id: int, cumulative: int) -> ClaimPublic:
    """The account's claim on ``task_id`` if its claimable root pays exactly ``cumulative``, unclaimed."""
    found = next((c for c in claims if c.task_id == task_id), None)
    if found is None:
        raise Conflict(f"nothing is claimable on task {task_id} for this account yet", field="task_id")
    if int(found.cumulative) != cumulative:
        raise Conflict(
            f"cumulative must be {found.cumulative}, what the claimable root pays; got {cumulative}",
            field="cumulative",
        )
    if int(found.claimable) == 0:
        raise Conflict(f"cumulative {cumulative} is already claimed on task {task_id}", field="cumulative")
    return found
