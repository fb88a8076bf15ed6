"""secp256k1 signatures under one strict policy, for EIP-712 and EIP-191 (SIWE) alike.

The policy (RELIABILITY C.14):

* 65 bytes ``r ‖ s ‖ v`` as 0x-hex. ``v`` is 27 or 28; 0 and 1 are read as
  27 and 28 (Ledger and some libraries emit them); any other ``v`` is refused.
* 64-byte EIP-2098 compact signatures are refused: wallets' ``eth_signTypedData_v4``
  and ``personal_sign`` never produce them, and one encoding keeps manifests
  checkable with stock tools.
* ``0 < r < n`` and ``0 < s ≤ n/2`` (EIP-2): the high-``s`` twin of a valid
  signature is refused. eth-keys alone checks only ``s < n``.

Malformed input raises :class:`~datacoop.errors.InvalidInput`; a well-formed
signature that cannot stand raises :class:`~datacoop.errors.BadSignature`.
Even so, deduplicate on the message digest or nonce, never on signature bytes:
``v`` ∈ {0, 1} and {27, 28} are two spellings of one signature.
"""

from __future__ import annotations

import re

from eth_account.messages import SignableMessage
from eth_keys.datatypes import Signature
from eth_keys.exceptions import BadSignature as KeysBadSignature
from eth_utils.crypto import keccak
from eth_utils.exceptions import ValidationError

from datacoop.errors import BadSignature, InvalidInput

__all__ = ["SECP256K1_N", "decode_signature", "recover_digest", "signable_digest", "split_signature"]

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
"""The order n of the secp256k1 group."""
_HEX = re.compile(r"0x(?:[0-9a-fA-F]{2})*")


def signable_digest(message: SignableMessage) -> bytes:
    """The 32-byte hash a signable message is signed over: ``keccak(0x19 ‖ version ‖ header ‖ body)``."""
    return keccak(b"\x19" + message.version + message.header + message.body)


def decode_signature(signature: str | bytes, field: str = "signature") -> bytes:
    """Raw bytes of a 0x-hex signature; bytes pass through.

    Raises:
        InvalidInput: not a string starting ``0x`` followed by hex digits.
    """
    if isinstance(signature, bytes):
        return signature
    # A pattern, not bytes.fromhex alone, which would let spaces between bytes through.
    if not isinstance(signature, str) or not _HEX.fullmatch(signature):
        raise InvalidInput(f"{field} must be 0x followed by an even number of hex digits", field=field)
    return bytes.fromhex(signature[2:])


def split_signature(raw: bytes, field: str = "signature") -> tuple[int, int, int]:
    """Split 65 signature bytes into ``(v, r, s)`` with ``v`` as the recovery id 0 or 1.

    Raises:
        InvalidInput: not 65 bytes (EIP-2098 compact included), or ``v`` not in {0, 1, 27, 28}.
        BadSignature: ``r`` or ``s`` out of range, or ``s`` in the upper half of the order.
    """
    if len(raw) != 65:
        compact = " (64-byte EIP-2098 compact signatures are not accepted)" if len(raw) == 64 else ""
        raise InvalidInput(f"{field} must be 65 bytes r‖s‖v, got {len(raw)}{compact}", field=field, limit=65)
    r, s, v = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:64], "big"), raw[64]
    if v not in (0, 1, 27, 28):
        raise InvalidInput(f"{field} v must be 27 or 28 (0 or 1 accepted), got {v}", field=field)
    if not 0 < r < SECP256K1_N or not 0 < s < SECP256K1_N:
        raise BadSignature(f"{field} has r or s outside the curve order", field=field)
    if s > SECP256K1_N // 2:
        raise BadSignature(
            f"{field} has s in the upper half of the curve order (EIP-2); sign again", field=field
        )
    return v % 27, r, s


def recover_digest(digest: bytes, signature: str | bytes, field: str = "signature") -> str:
    """The checksummed address whose key signed a 32-byte digest.

    Raises:
        InvalidInput: a malformed signature (see :func:`split_signature`).
        BadSignature: a signature no public key stands behind.
    """
    v, r, s = split_signature(decode_signature(signature, field), field)
    try:
        public_key = Signature(vrs=(v, r, s)).recover_public_key_from_msg_hash(digest)
    except (KeysBadSignature, ValidationError) as exc:
        raise BadSignature(f"{field} does not recover to any key ({exc})", field=field) from None
    return str(public_key.to_checksum_address())
