"""Gasless claims: the EIP-712 authorisation a contributor signs so that anyone can relay their claim.

A :class:`ClaimAuthorisation` names the account, its cumulative entitlement, the relayer allowed
to send it (the zero address: anyone), the relayer's fee and a deadline. The domain is the task's
vault and the chain, so a signature is good for one vault only; it names the cumulative amount,
so once that is paid it can never pay again. ``TaskVault.claimWithSig`` checks the same digest
(:meth:`TaskVault.claim_digest <datacoop.chain.contracts.TaskVault.claim_digest>` reads it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount

__all__ = [
    "ANY_RELAYER",
    "EIP712_DOMAIN_TYPES",
    "MAX_RELAYER_FEE_BPS",
    "ClaimAuthorisation",
    "SignedClaim",
    "claim_typed_data",
]

ANY_RELAYER = "0x" + "00" * 20
MAX_RELAYER_FEE_BPS = 1_000
"""TaskVault's cap on a relayer's fee: 10 % of what the claim pays."""

EIP712_DOMAIN_TYPES = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
"""The EIP-712 domain of a contract's own signatures (a vault's claims, a token's permits)."""

_TYPES = {
    "EIP712Domain": EIP712_DOMAIN_TYPES,
    "Claim": [
        {"name": "account", "type": "address"},
        {"name": "cumulativeAmount", "type": "uint256"},
        {"name": "relayer", "type": "address"},
        {"name": "fee", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ],
}


@dataclass(frozen=True)
class ClaimAuthorisation:
    """What a contributor signs: pay ``account`` its ``cumulative`` entitlement, ``fee`` to the relayer."""

    chain_id: int
    vault: str
    account: str
    cumulative: int
    relayer: str
    fee: int
    deadline: int


@dataclass(frozen=True)
class SignedClaim:
    """An authorisation with its signature (v, r, s as ``claimWithSig`` takes them)."""

    auth: ClaimAuthorisation
    v: int
    r: bytes
    s: bytes

    @classmethod
    def sign(cls, account: LocalAccount, auth: ClaimAuthorisation) -> SignedClaim:
        """``account`` signs ``auth`` (a local key; an external signer signs :func:`claim_typed_data`)."""
        signed = account.sign_message(encode_typed_data(full_message=claim_typed_data(auth)))
        return cls(auth, signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big"))

    @classmethod
    def from_signature(cls, auth: ClaimAuthorisation, signature: str | bytes) -> SignedClaim:
        """Split a 65-byte ``r || s || v`` signature (a wallet's ``eth_signTypedData_v4`` answer)."""
        raw = bytes.fromhex(signature.removeprefix("0x")) if isinstance(signature, str) else signature
        if len(raw) != 65:
            raise ValueError(f"signature must be 65 bytes, got {len(raw)}")
        v = raw[64] + 27 if raw[64] < 27 else raw[64]
        return cls(auth, v, raw[:32], raw[32:64])


def claim_typed_data(auth: ClaimAuthorisation) -> dict[str, Any]:
    """The EIP-712 typed data of ``auth``, as ``eth_signTypedData_v4`` and ``encode_typed_data`` take it."""
    return {
        "types": _TYPES,
        "primaryType": "Claim",
        "domain": {
            "name": "DataCoop TaskVault",
            "version": "1",
            "chainId": auth.chain_id,
            "verifyingContract": auth.vault,
        },
        "message": {
            "account": auth.account,
            "cumulativeAmount": auth.cumulative,
            "relayer": auth.relayer,
            "fee": auth.fee,
            "deadline": auth.deadline,
        },
    }
