"""Any ERC-20 a task pays in: its symbol and decimals read from the chain, and EIP-2612 ``permit``.

A task names its token once, when it is created; :class:`TokenReader` reads ``decimals()`` and
``symbol()`` then (they are kept with the task, so no page view asks the chain again) and refuses an
address without code or without a working ``decimals()``. Amounts are formatted and parsed in
:mod:`datacoop.tasks.amounts`.

Funding with ``permit`` (EIP-2612): the requester signs :func:`permit_typed_data` once; anyone may
send :func:`permit_call` (the allowance it sets is the requester's, whoever pays its gas), after which
the requester's ``openTask`` pulls the budget with no ``approve`` transaction of their own.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import BadFunctionCallOutput, ContractLogicError, Web3Exception

from datacoop.chain.client import ChainClient
from datacoop.chain.contracts import TxRequest
from datacoop.chain.gasless import EIP712_DOMAIN_TYPES
from datacoop.chain.verify import is_test_token
from datacoop.errors import InvalidInput, Unprocessable

__all__ = [
    "PermitDomain",
    "TokenInfo",
    "TokenReader",
    "allowance",
    "permit_call",
    "permit_nonce",
    "permit_typed_data",
    "read_permit_domain",
    "read_token",
    "sign_permit",
]

MAX_SYMBOL = 16
MAX_DECIMALS = 77  # 10**77 < 2**256: more decimals and not one whole token fits a uint256


def _fn(name: str, inputs: str, output: str | None, view: bool = True) -> dict[str, Any]:
    """One ABI function entry from ``"address owner,uint256 value"``-style text."""
    args = [dict(zip(("type", "name"), a.split(), strict=True)) for a in inputs.split(",") if a]
    return {
        "type": "function",
        "name": name,
        "stateMutability": "view" if view else "nonpayable",
        "inputs": args,
        "outputs": [{"type": output, "name": ""}] if output else [],
    }


_ABI = [
    *(_fn(n, "", t) for n, t in (("decimals", "uint8"), ("symbol", "string"), ("name", "string"),
                                 ("version", "string"), ("DOMAIN_SEPARATOR", "bytes32"))),
    _fn("nonces", "address owner", "uint256"),
    _fn("allowance", "address owner,address spender", "uint256"),
    _fn("permit", "address owner,address spender,uint256 value,uint256 deadline,uint8 v,bytes32 r,bytes32 s",
        None, view=False),
]  # fmt: skip
_BYTES32_SYMBOL = [_fn("symbol", "", "bytes32")]
_CALL_ERRORS = (ContractLogicError, BadFunctionCallOutput, Web3Exception, ValueError, OverflowError)
_PERMIT_TYPES = [
    {"name": "owner", "type": "address"},
    {"name": "spender", "type": "address"},
    {"name": "value", "type": "uint256"},
    {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint256"},
]


@dataclass(frozen=True)
class TokenInfo:
    """An ERC-20 as a task records it: checksummed address, symbol as shown, decimals."""

    address: str
    symbol: str
    decimals: int


def _erc20(client: ChainClient, address: str) -> Contract:
    return client.w3.eth.contract(address=Web3.to_checksum_address(address), abi=_ABI)


def _clean_symbol(raw: str | bytes) -> str:
    """What is safe to print: a hostile token's symbol could carry markup or control characters."""
    text = raw.rstrip(b"\0").decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return "".join(c for c in text if c.isalnum() or c in "._-$+")[:MAX_SYMBOL]


def _symbol(client: ChainClient, erc20: Contract) -> str:
    """``symbol()`` as a string, or as bytes32 (older tokens such as MKR); "" when it has none."""
    try:
        return _clean_symbol(erc20.functions.symbol().call())
    except _CALL_ERRORS:
        pass  # an older token: symbol() as bytes32
    try:
        legacy = client.w3.eth.contract(address=erc20.address, abi=_BYTES32_SYMBOL)
        return _clean_symbol(bytes(legacy.functions.symbol().call()))
    except _CALL_ERRORS:
        return ""  # symbol() is optional in ERC-20


def read_token(client: ChainClient, address: str, field: str = "token") -> TokenInfo:
    """The ERC-20 at ``address``: its symbol and decimals as the chain answers them now.

    Raises:
        InvalidInput: ``address`` is not a 20-byte hex address.
        Unprocessable: no contract code there, ``decimals()`` fails or is above 77 (``field`` named).
        Unavailable: the chain does not answer.
    """
    if not Web3.is_address(address):
        raise InvalidInput(f"{field} must be 0x followed by 40 hex digits, got {address!r}", field=field)
    checksummed = Web3.to_checksum_address(address)
    if not client.code_at(checksummed):
        raise Unprocessable(
            f"{field} {checksummed} has no contract code on chain {client.chain_id}: not an ERC-20",
            field=field,
        )
    erc20 = _erc20(client, checksummed)
    try:
        decimals = int(client._call(lambda: erc20.functions.decimals().call()))
    except _CALL_ERRORS as exc:
        raise Unprocessable(
            f"{field} {checksummed} does not answer decimals(): not an ERC-20 ({exc})", field=field
        ) from None
    if decimals > MAX_DECIMALS:
        raise Unprocessable(
            f"{field} {checksummed} has {decimals} decimals; at most {MAX_DECIMALS} are supported",
            field=field,
            limit=MAX_DECIMALS,
        )
    return TokenInfo(checksummed, _symbol(client, erc20), decimals)


class TokenReader:
    """Reads the tokens tasks name on one chain, each once; ``default`` stands in where none is named."""

    def __init__(self, client: ChainClient, default: str | None, *, refuse_test_token: bool = False) -> None:
        self.client, self.default, self.refuse_test_token = client, default, refuse_test_token
        self._known: dict[str, TokenInfo] = {}

    def resolve(self, address: str | None, field: str = "token") -> TokenInfo:
        """The named token, or the default one.

        Raises:
            InvalidInput: none named and this node has no default (production names its token per task),
                or (``refuse_test_token``, production) the open-mint TestToken, known by its code.
            Unprocessable: not an ERC-20 (:func:`read_token`).
        """
        if address is None:
            if self.default is None:
                raise InvalidInput(f"{field} must be set: this node has no default token", field=field)
            address = self.default
        key = address.lower()
        if key not in self._known:
            if self.refuse_test_token and is_test_token(self.client, address):
                raise InvalidInput(
                    f"{field} {address} is the open-mint TestToken, refused in production: anyone mints it",
                    field=field,
                )
            self._known[key] = read_token(self.client, address, field)
        return self._known[key]


@dataclass(frozen=True)
class PermitDomain:
    """A token's EIP-712 domain, as its ``permit`` checks signatures against it."""

    name: str
    version: str
    chain_id: int
    token: str

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "chainId": self.chain_id,
                "verifyingContract": self.token}  # fmt: skip


def _domain_hash(d: PermitDomain) -> bytes:
    zero = "0x" + "00" * 20
    return bytes(encode_typed_data(full_message=permit_typed_data(d, zero, zero, 0, 0, 0)).header)


def read_permit_domain(client: ChainClient, token: str, field: str = "token") -> PermitDomain:
    """The token's permit domain: ``name()`` and ``version()`` (``"1"`` where it has none), checked
    against its ``DOMAIN_SEPARATOR()`` so that a signature made here is one the token accepts.

    Raises:
        Unprocessable: the token has no ``permit`` (no ``DOMAIN_SEPARATOR`` or ``nonces``), or a domain
            this cannot reproduce (``field`` named).
    """
    erc20 = _erc20(client, token)
    try:
        separator = bytes(erc20.functions.DOMAIN_SEPARATOR().call())
        erc20.functions.nonces(erc20.address).call()
        name = str(erc20.functions.name().call())
    except _CALL_ERRORS:
        raise Unprocessable(
            f"{field} {erc20.address} does not support EIP-2612 permit", field=field
        ) from None
    versions = []
    with contextlib.suppress(*_CALL_ERRORS):
        versions.append(str(erc20.functions.version().call()))
    for version in [*versions, "1", "2"]:  # "1" most tokens, "2" USDC's FiatToken v2
        domain = PermitDomain(name, version, client.chain_id, erc20.address)
        if _domain_hash(domain) == separator:
            return domain
    raise Unprocessable(
        f"{field} {erc20.address}: its DOMAIN_SEPARATOR matches no (name, version) this node can sign for",
        field=field,
    )


def permit_typed_data(
    domain: PermitDomain, owner: str, spender: str, value: int, nonce: int, deadline: int
) -> dict[str, Any]:
    """The EIP-712 ``Permit`` a wallet signs (``eth_signTypedData_v4`` shape)."""
    return {
        "types": {"EIP712Domain": EIP712_DOMAIN_TYPES, "Permit": _PERMIT_TYPES},
        "primaryType": "Permit",
        "domain": domain.as_dict(),
        "message": {
            "owner": Web3.to_checksum_address(owner),
            "spender": Web3.to_checksum_address(spender),
            "value": value,
            "nonce": nonce,
            "deadline": deadline,
        },
    }


def sign_permit(account: LocalAccount, typed: dict[str, Any]) -> tuple[int, bytes, bytes]:
    """The owner's signature of ``typed`` as ``permit`` takes it: ``(v, r, s)``."""
    signed = account.sign_message(encode_typed_data(full_message=typed))
    return signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big")


def permit_call(typed: dict[str, Any], signature: tuple[int, bytes, bytes]) -> TxRequest:
    """``token.permit(...)`` for a signed ``typed``: any account may send it."""
    m, (v, r, s) = typed["message"], signature
    token = typed["domain"]["verifyingContract"]
    data = (
        Web3()
        .eth.contract(abi=_ABI)
        .encode_abi("permit", args=[m["owner"], m["spender"], m["value"], m["deadline"], v, r, s])
    )
    return TxRequest(Web3.to_checksum_address(token), data)


def permit_nonce(client: ChainClient, token: str, owner: str) -> int:
    """The owner's next permit nonce on ``token``."""
    return int(_erc20(client, token).functions.nonces(Web3.to_checksum_address(owner)).call())


def allowance(client: ChainClient, token: str, owner: str, spender: str) -> int:
    """What ``spender`` may still pull from ``owner`` on ``token``."""
    cs = Web3.to_checksum_address
    return int(_erc20(client, token).functions.allowance(cs(owner), cs(spender)).call())
