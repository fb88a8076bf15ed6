"""Operator signers: who signs the node's transactions, without a raw key in the environment.

:class:`Signer` is the port: an address, ``sign_transaction`` and ``sign_typed_data``. Adapters:

- an eth-account ``LocalAccount`` (a dev key, or one decrypted from a scrypt keystore file by
  :func:`load_keystore`): it satisfies :class:`Signer` as it is;
- :class:`RpcSigner`: an external signer over JSON-RPC (web3signer, geth backed by Clef, a node's
  unlocked account) answering ``eth_signTransaction`` and ``eth_signTypedData_v4`` (or
  ``eth_signTypedData``, web3signer's name for it). The key never enters
  this process; every signature it returns is checked against what was asked before it is used.

:func:`operator_signer` picks one from the settings.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx2 as httpx
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_account.typed_transactions.typed_transaction import TypedTransaction
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from hexbytes import HexBytes

from datacoop.errors import IntegrityError, InvalidInput, NotFound, Unavailable
from datacoop.settings import Settings

__all__ = ["RpcSigner", "SignedTx", "SignedTyped", "Signer", "load_keystore", "operator_signer"]

# The fields an external signer must sign exactly as asked (anything else is refused).
_SIGNED_FIELDS = ("nonce", "gas", "maxFeePerGas", "maxPriorityFeePerGas", "value", "chainId")


class SignedTx(Protocol):
    @property
    def raw_transaction(self) -> bytes: ...
    @property
    def hash(self) -> bytes: ...


class SignedTyped(Protocol):
    @property
    def signature(self) -> bytes: ...


class Signer(Protocol):
    """A key that signs the operator's transactions and EIP-712 messages."""

    @property
    def address(self) -> str: ...

    def sign_transaction(self, transaction_dict: dict[str, Any], /) -> SignedTx: ...

    def sign_typed_data(self, *, full_message: dict[str, Any]) -> SignedTyped: ...


@dataclass(frozen=True)
class _Signed:
    raw_transaction: bytes
    hash: bytes


@dataclass(frozen=True)
class _SignedTyped:
    signature: bytes


def load_keystore(path: Path, password: str) -> LocalAccount:
    """Decrypt an eth-account (scrypt or pbkdf2) keystore file; a wrong password names the file."""
    if not path.is_file():
        raise NotFound(f"no keystore file {path}", field="operator_keystore")
    try:
        key = Account.decrypt(json.loads(path.read_text()), password)
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(f"cannot decrypt keystore {path}: {exc}", field="operator_keystore") from exc
    account: LocalAccount = Account.from_key(key)
    return account


def _hexify(value: Any) -> Any:
    """JSON for a typed-data message: bytes as 0x-hex, everything else as it is."""
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, dict):
        return {k: _hexify(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_hexify(v) for v in value]
    return value


class RpcSigner:
    """An external signer at ``url`` holding ``address`` (the only account it lists when omitted)."""

    def __init__(self, url: str, address: str | None = None, *, timeout: float = 30.0) -> None:
        self.url = url
        self._http = httpx.Client(timeout=timeout)
        self._id = 0
        self._address = to_checksum_address(address) if address else self._only_account()

    @property
    def address(self) -> str:
        return self._address

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, params: list[Any], *, fallback: str | None = None) -> Any:
        """One call; ``fallback``: the method's other name, tried when this one does not exist."""
        self._id += 1
        body = {"jsonrpc": "2.0", "id": self._id, "method": method, "params": params}
        try:
            reply = self._http.post(self.url, json=body).json()
        except (httpx.HTTPError, ValueError) as exc:
            raise Unavailable(
                f"the external signer at {self.url} does not answer {method}: {exc}",
                field="operator_signer_url",
            ) from exc
        error = reply.get("error")
        if isinstance(error, dict) and error.get("code") == -32601 and fallback:  # method not found
            return self._call(fallback, params)
        if error is not None:
            raise Unavailable(
                f"the external signer at {self.url} refused {method}: {reply['error']}",
                field="operator_signer_url",
            )
        return reply["result"]

    def _only_account(self) -> str:
        accounts = self._call("eth_accounts", [])
        if len(accounts) != 1:
            raise InvalidInput(
                f"the external signer at {self.url} holds {len(accounts)} accounts: set operator_address "
                "to the one that operates",
                field="operator_address",
            )
        return to_checksum_address(accounts[0])

    def sign_transaction(self, transaction_dict: dict[str, Any], /) -> SignedTx:
        """Ask for an EIP-1559 signature; refuse one by another key or over other fields."""
        tx = transaction_dict
        request = {
            "from": self._address, "type": "0x2", "data": tx.get("data", "0x"),
            **({"to": tx["to"]} if tx.get("to") else {}),
            **{field: hex(int(tx.get(field, 0))) for field in _SIGNED_FIELDS},
        }  # fmt: skip
        result = self._call("eth_signTransaction", [request])
        raw_hex = result["raw"] if isinstance(result, dict) else result  # geth (Clef) wraps it, others do not
        raw = bytes.fromhex(str(raw_hex).removeprefix("0x"))
        self._check_transaction(raw, request)
        return _Signed(raw_transaction=raw, hash=keccak(raw))

    def _check_transaction(self, raw: bytes, asked: dict[str, Any]) -> None:
        try:
            sender = Account.recover_transaction(raw)
            got = TypedTransaction.from_bytes(HexBytes(raw)).as_dict()
        except Exception as exc:  # any decoding failure is a bad answer, whatever its class
            raise IntegrityError(
                f"the external signer at {self.url} returned no valid transaction: {exc}",
                field="operator_signer_url",
            ) from exc
        want_to = asked.get("to")
        got_to = to_checksum_address(got["to"]) if got.get("to") else None
        differs = [f for f in _SIGNED_FIELDS if int(got.get(f, 0)) != int(asked[f], 16)]
        if sender != self._address:
            differs.append("from")
        if got_to != (to_checksum_address(want_to) if want_to else None):
            differs.append("to")
        if bytes(got.get("data", b"")) != bytes.fromhex(str(asked["data"]).removeprefix("0x")):
            differs.append("data")
        if differs:
            raise IntegrityError(
                f"the external signer at {self.url} signed other {', '.join(differs)} than asked",
                field="operator_signer_url",
            )

    def sign_typed_data(self, *, full_message: dict[str, Any]) -> SignedTyped:
        """EIP-712 through ``eth_signTypedData_v4``; the signature must recover to this address."""
        result = self._call(
            "eth_signTypedData_v4", [self._address, _hexify(full_message)], fallback="eth_signTypedData"
        )
        signature = bytes.fromhex(str(result).removeprefix("0x"))
        signable = encode_typed_data(full_message=full_message)
        try:
            signer = Account.recover_message(signable, signature=signature)
        except Exception as exc:  # a malformed signature of any kind is a bad answer
            raise IntegrityError(
                f"the external signer at {self.url} returned a malformed signature: {exc}",
                field="operator_signer_url",
            ) from exc
        if signer != self._address:
            raise IntegrityError(
                f"the external signer at {self.url} signed with {signer}, not {self._address}",
                field="operator_signer_url",
            )
        return _SignedTyped(signature=signature)


def _password(settings: Settings, prompt: Callable[[str], str] | None) -> str:
    if settings.operator_password_file is not None:
        path = settings.operator_password_file
        if not path.is_file():
            raise NotFound(f"no password file {path}", field="operator_password_file")
        return path.read_text().rstrip("\r\n")  # editors add a final newline; the password has none
    if prompt is not None:
        return prompt(f"password for {settings.operator_keystore}: ")
    raise InvalidInput(
        "operator_password_file must be set to unlock operator_keystore (or run interactively)",
        field="operator_password_file",
    )


def operator_signer(settings: Settings, *, prompt: Callable[[str], str] | None = None) -> Signer | None:
    """The operator's signer from the settings: a keystore, an external signer, or a raw dev key.

    Args:
        settings: ``operator_keystore`` (+ ``operator_password_file``), ``operator_signer_url``
            (+ ``operator_address``), or ``operator_key`` (development only; the settings refuse
            it in production).
        prompt: asks for the keystore password when no password file is set (the CLI's prompt).

    Returns:
        None when no operator key is configured (the embedded chain then uses a dev account).
    """
    if settings.operator_keystore is not None:
        return load_keystore(settings.operator_keystore, _password(settings, prompt))
    if settings.operator_signer_url is not None:
        return RpcSigner(settings.operator_signer_url, settings.operator_address)
    if settings.operator_key:
        try:
            account: LocalAccount = Account.from_key(settings.operator_key)
        except (ValueError, TypeError) as exc:
            raise InvalidInput("operator_key is not a 32-byte hex key", field="operator_key") from exc
        return account
    return None
