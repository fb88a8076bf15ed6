"""Contributors' EIP-712 signatures re-checked from a manifest alone.

A manifest never reveals an item's original CID, only ``original_cid_hash``. That is enough:
EIP-712 encodes a ``string`` member by the keccak256 of its bytes, so the struct hash of a
:class:`~datacoop.identity.eip712.SubmissionMessage` is computed here with that hash put in
directly, and the signer is recovered from the digest under the manifest's domain.
"""

from __future__ import annotations

from typing import Any

from eth_abi.abi import encode as abi_encode

from datacoop.datasets.manifest import ManifestItem
from datacoop.errors import DataCoopError, InvalidInput
from datacoop.identity.addresses import parse_did_pkh
from datacoop.identity.eip712 import Eip712Domain, SubmissionMessage
from datacoop.identity.signatures import recover_digest
from datacoop.merkle._keccak import new_hasher

__all__ = ["domain_from_manifest", "item_digest", "item_signer", "struct_hash"]


def _keccak(data: bytes) -> bytes:
    return new_hasher().keccak(data)


def _type_string(name: str, members: list[dict[str, str]]) -> bytes:
    return f"{name}({','.join(m['type'] + ' ' + m['name'] for m in members)})".encode()


def struct_hash(name: str, members: list[dict[str, str]], values: dict[str, Any]) -> bytes:
    """``hashStruct`` of EIP-712 for flat structs; a ``string`` value may be given as its 0x hash."""
    types, encoded = ["bytes32"], [_keccak(_type_string(name, members))]
    for member in members:
        value = values[member["name"]]
        if member["type"] == "string":
            types.append("bytes32")
            is_hash = isinstance(value, bytes)
            encoded.append(value if is_hash else _keccak(value.encode("utf-8")))
        elif member["type"] == "bytes32":
            types.append("bytes32")
            encoded.append(bytes.fromhex(value.removeprefix("0x")))
        else:
            types.append(member["type"])
            encoded.append(value)
    return _keccak(abi_encode(types, encoded))


def domain_from_manifest(domain: dict[str, Any]) -> Eip712Domain:
    """The manifest's ``eip712_domain`` (``name``, ``version``, ``chainId``, ``verifyingContract``).

    Raises:
        InvalidInput: (``eip712_domain``) a missing or malformed member.
    """
    try:
        return Eip712Domain(
            name=domain["name"],
            version=domain["version"],
            chain_id=domain["chainId"],
            verifying_contract=domain["verifyingContract"],
        )
    except (KeyError, TypeError) as exc:
        raise InvalidInput(f"eip712_domain lacks {exc}", field="eip712_domain") from None


def item_digest(domain: Eip712Domain, item: ManifestItem) -> bytes:
    """The EIP-712 digest the contributor signed, rebuilt from the item's fields."""
    _chain, address = parse_did_pkh(item.contributor)
    message = {
        "contributor": address,
        "taskId": item.task_id,
        "cid": bytes.fromhex(item.original_cid_hash.removeprefix("0x")),
        "consentHash": item.consent_hash,
        "jurisdiction": item.jurisdiction,
        "nonce": item.nonce,
        "deadline": item.deadline,
    }
    separator = struct_hash("EIP712Domain", Eip712Domain.eip712_type(), domain.as_dict())
    body = struct_hash(SubmissionMessage.PRIMARY_TYPE, SubmissionMessage.eip712_type(), message)
    return _keccak(b"\x19\x01" + separator + body)


def item_signer(domain: Eip712Domain, item: ManifestItem) -> str | None:
    """Who signed the item (checksummed), or None where the signature recovers to nobody."""
    try:
        return recover_digest(item_digest(domain, item), item.signature)
    except DataCoopError:
        return None
