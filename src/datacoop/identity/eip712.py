"""EIP-712 typed data for what participants sign, and strict signature recovery.

Each signed message is a frozen dataclass whose ``FIELDS`` table (Python
attribute, Solidity type) is the single source of its EIP-712 type, its
validation and its JSON; votes and appeals join :data:`MESSAGE_CLASSES` the
same way. The domain binds every signature to one chain id and one contract,
so a signature replayed elsewhere recovers to some other address.

Recovery follows the strict policy of :mod:`datacoop.identity.signatures`;
deduplicate on :func:`digest_typed` or the nonce, never on signature bytes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from eth_account import Account
from eth_account.messages import SignableMessage, encode_typed_data
from eth_utils.exceptions import ValidationError

from datacoop.errors import BadSignature, Gone, InvalidInput, Unprocessable
from datacoop.identity.addresses import normalize_address
from datacoop.identity.signatures import recover_digest, signable_digest

__all__ = [
    "CANONICAL_FORMS",
    "EIP712_DOMAIN_TYPE",
    "MESSAGE_CLASSES",
    "SUBMISSION_TYPES",
    "AppealMessage",
    "Eip712Domain",
    "Eip712Struct",
    "SubmissionMessage",
    "TypedMessage",
    "VoteMessage",
    "digest_typed",
    "recover_typed",
    "require_canonical",
    "sign_typed",
    "typed_data_json",
    "verify_signer",
    "verify_submission",
]

_HEX32 = re.compile(r"0x[0-9a-fA-F]{64}")


def _uint256(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**256:
        raise InvalidInput(f"{field} must be an integer in [0, 2**256), got {value!r}", field=field)
    return value


def _bytes32(value: Any, field: str) -> str:
    if not isinstance(value, str) or not _HEX32.fullmatch(value):
        raise InvalidInput(f"{field} must be 0x followed by 64 hex digits, got {value!r}", field=field)
    return value.lower()


def _string(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string, got {type(value).__name__}", field=field)
    return value


# One checker per Solidity type used in a struct: validates and normalises a field's value.
_CHECKS: dict[str, Callable[[Any, str], Any]] = {
    "address": lambda value, field: normalize_address(value, field=field),
    "uint256": _uint256,
    "bytes32": _bytes32,
    "string": _string,
}


def _eip712_name(attribute: str) -> str:
    head, *rest = attribute.split("_")
    return head + "".join(part.capitalize() for part in rest)


class Eip712Struct:
    """Base of the frozen dataclasses signed as EIP-712 structs, driven by their ``FIELDS`` table."""

    FIELDS: ClassVar[tuple[tuple[str, str], ...]]
    """(Python attribute, Solidity type) in signing order; the EIP-712 name is the camelCase attribute."""

    def __post_init__(self) -> None:
        for attribute, solidity_type in self.FIELDS:
            checked = _CHECKS[solidity_type](getattr(self, attribute), attribute)
            object.__setattr__(self, attribute, checked)

    @classmethod
    def eip712_type(cls) -> list[dict[str, str]]:
        """The struct's member list as EIP-712 ``types`` JSON."""
        return [{"name": _eip712_name(attr), "type": sol} for attr, sol in cls.FIELDS]

    def as_dict(self) -> dict[str, Any]:
        """The values in EIP-712 JSON form, keyed by camelCase member name."""
        return {_eip712_name(attr): getattr(self, attr) for attr, _ in self.FIELDS}


@dataclass(frozen=True, kw_only=True)
class Eip712Domain(Eip712Struct):
    """The EIP-712 domain every DataCoop signature is bound to: one chain, one contract."""

    FIELDS = (
        ("name", "string"),
        ("version", "string"),
        ("chain_id", "uint256"),
        ("verifying_contract", "address"),
    )

    name: str = "DataCoop"
    version: str = "1"
    chain_id: int
    verifying_contract: str

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.chain_id == 0:
            raise InvalidInput("chain_id must be positive", field="chain_id")


EIP712_DOMAIN_TYPE = Eip712Domain.eip712_type()


class TypedMessage(Eip712Struct):
    """Base of signed messages: an :class:`Eip712Struct` with its ``PRIMARY_TYPE``."""

    PRIMARY_TYPE: ClassVar[str]

    def to_typed_data(self, domain: Eip712Domain) -> dict[str, Any]:
        """The full typed data a wallet's ``eth_signTypedData_v4`` takes."""
        return {
            "types": {"EIP712Domain": Eip712Domain.eip712_type(), self.PRIMARY_TYPE: self.eip712_type()},
            "primaryType": self.PRIMARY_TYPE,
            "domain": domain.as_dict(),
            "message": self.as_dict(),
        }


@dataclass(frozen=True, kw_only=True)
class SubmissionMessage(TypedMessage):
    """What a contributor signs to commit one item to a task.

    ``cid`` is the CIDv1 string, ``consent_hash`` 0x-hex (stored lower-case) and
    ``deadline`` unix seconds after which the signature is void.
    """

    PRIMARY_TYPE = "Submission"
    FIELDS = (
        ("contributor", "address"),
        ("task_id", "uint256"),
        ("cid", "string"),
        ("consent_hash", "bytes32"),
        ("jurisdiction", "string"),
        ("nonce", "uint256"),
        ("deadline", "uint256"),
    )

    contributor: str
    task_id: int
    cid: str
    consent_hash: str
    jurisdiction: str
    nonce: int
    deadline: int


@dataclass(frozen=True, kw_only=True)
class VoteMessage(TypedMessage):
    """What a validator signs to vote on one assigned item.

    ``decision`` is ``accept`` or ``reject``; ``labels`` the chosen labels as compact JSON
    (``["a","b"]``). The assignment names the item, so the vote never reveals which item it is.
    """

    PRIMARY_TYPE = "Vote"
    FIELDS = (
        ("validator", "address"),
        ("task_id", "uint256"),
        ("assignment_id", "uint256"),
        ("decision", "string"),
        ("labels", "string"),
        ("nonce", "uint256"),
    )

    validator: str
    task_id: int
    assignment_id: int
    decision: str
    labels: str
    nonce: int


@dataclass(frozen=True, kw_only=True)
class AppealMessage(TypedMessage):
    """What a contributor signs to appeal the rejection of one of their submissions."""

    PRIMARY_TYPE = "Appeal"
    FIELDS = (
        ("contributor", "address"),
        ("submission_id", "uint256"),
        ("reason", "string"),
        ("nonce", "uint256"),
    )

    contributor: str
    submission_id: int
    reason: str
    nonce: int


MESSAGE_CLASSES: tuple[type[TypedMessage], ...] = (SubmissionMessage, VoteMessage, AppealMessage)
SUBMISSION_TYPES: dict[str, list[dict[str, str]]] = {"Submission": SubmissionMessage.eip712_type()}


CANONICAL_FORMS: dict[str, dict[str, str]] = {
    "Submission": {
        "cid": "CIDv1, multibase base32 in lower case (bafy…, bafk…), as `ipfs add --cid-version=1` prints",
        "jurisdiction": "ISO 3166-1 alpha-2 country code, upper case (KE, DE, IN)",
    },
    "Vote": {
        "decision": "accept or reject, lower case",
        "labels": 'the labels as sent, as compact JSON with non-ASCII left as UTF-8: ["a","b"]',
    },
}
"""The one spelling accepted for a string member that has several (strings are signed as sent)."""


def require_canonical(field: str, sent: str, canonical: str) -> None:
    """Refuse a value the signer signed as sent but in a spelling the node does not store.

    Raises:
        Unprocessable: (``field``) ``sent`` differs from ``canonical``; the message names the canonical value.
    """
    if sent != canonical:
        raise Unprocessable(
            f"{field} {sent!r} is not in canonical form: sign and send {canonical!r} "
            "(GET /v1/eip712 lists the canonical forms)",
            field=field,
            limit=canonical,
        )


def typed_data_json(domain: Eip712Domain) -> dict[str, Any]:
    """The domain and the types of every message DataCoop asks a wallet to sign, and the canonical forms."""
    types = {"EIP712Domain": Eip712Domain.eip712_type()}
    types.update({cls.PRIMARY_TYPE: cls.eip712_type() for cls in MESSAGE_CLASSES})
    return {
        "domain": domain.as_dict(),
        "types": types,
        "primaryTypes": [c.PRIMARY_TYPE for c in MESSAGE_CLASSES],
        "canonical": CANONICAL_FORMS,
    }


def _encode(typed_data: Mapping[str, Any]) -> SignableMessage:
    try:
        return encode_typed_data(full_message=dict(typed_data))
    except (ValueError, TypeError, KeyError, ValidationError) as exc:
        raise InvalidInput(f"typed_data is not valid EIP-712: {exc}", field="typed_data") from None


def digest_typed(typed_data: Mapping[str, Any]) -> bytes:
    """The 32-byte EIP-712 digest: the key to deduplicate and log by (equal to the contract's)."""
    return signable_digest(_encode(typed_data))


def sign_typed(private_key: bytes | str, typed_data: Mapping[str, Any]) -> str:
    """Sign typed data as a wallet would; returns 0x-hex ``r ‖ s ‖ v`` with v in {27, 28} and low s."""
    signed = Account.sign_message(_encode(typed_data), private_key)
    return "0x" + bytes(signed.signature).hex()


def recover_typed(typed_data: Mapping[str, Any], signature: str | bytes) -> str:
    """The checksummed address that signed ``typed_data``.

    Raises:
        InvalidInput: malformed ``typed_data`` or ``signature``.
        BadSignature: (``signature``) refused by the policy of :mod:`datacoop.identity.signatures`.
    """
    return recover_digest(digest_typed(typed_data), signature)


def verify_submission(
    domain: Eip712Domain, message: SubmissionMessage, signature: str, *, expected_signer: str, now: int
) -> None:
    """Check a submission's deadline and that its signer is both its contributor and the sender.

    The caller consumes the nonce (replay of the same payload) in its own transaction.

    Raises:
        Gone: (``deadline``) ``now`` is past the deadline.
        InvalidInput: (``signature``) a malformed signature.
        BadSignature: (``signature``) signed by someone else, or over other content or another domain.
    """
    if now > message.deadline:
        raise Gone(
            f"deadline {message.deadline} has passed (now {now}); sign again",
            field="deadline",
            limit=message.deadline,
        )
    signer = recover_typed(message.to_typed_data(domain), signature)
    sender = normalize_address(expected_signer, field="expected_signer")
    if signer != sender:
        raise BadSignature(f"signature was signed by {signer} but sent by {sender}", field="signature")
    if signer != message.contributor:
        raise BadSignature(
            f"signature was signed by {signer} but names contributor {message.contributor}", field="signature"
        )


def verify_signer(
    domain: Eip712Domain, message: TypedMessage, signature: str, *, expected_signer: str
) -> str:
    """Check that ``message`` was signed, in ``domain``, by ``expected_signer``; returns its digest (0x-hex).

    Raises:
        InvalidInput: (``signature``) a malformed signature.
        BadSignature: (``signature``) signed by someone else, or over other content or another domain.
    """
    typed = message.to_typed_data(domain)
    signer = recover_typed(typed, signature)
    sender = normalize_address(expected_signer, field="expected_signer")
    if signer != sender:
        raise BadSignature(
            f"the {message.PRIMARY_TYPE} signature was signed by {signer} but sent by {sender}",
            field="signature",
        )
    return "0x" + digest_typed(typed).hex()
