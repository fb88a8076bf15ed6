"""Checking ``(address, uint256)`` leaf values and encoding them as Solidity's ``abi.encode`` does.

``abi.encode(address, uint256)`` is two 32-byte words: the address left-padded with 12 zero
bytes, then the amount big-endian. It is written here by hand because ``eth_abi.encode`` costs
~10 µs a call, more than the two hashes of a leaf together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from datacoop.errors import InvalidInput
from datacoop.merkle._address import checksum_address, invalid_value, parse_address, parse_addresses
from datacoop.merkle._keccak import Hasher

__all__ = ["Entries", "check_entry", "check_values", "values_from_json"]

_ADDRESS_PAD = bytes(12)
_UINT256_DIGITS = len(str(2**256 - 1))


@dataclass(frozen=True, slots=True)
class Entries:
    """Checked values in input order.

    Attributes:
        bodies: the 40 lower-case hex digits of every address, concatenated.
        checksummed: the same digits in EIP-55 case where they were computed on the way, else None.
        amounts: the amounts.
        leaves: the leaf hash of each value, ``keccak256(keccak256(abi.encode(address, amount)))``.
        index_of: the position of each 20-byte address (addresses are unique).
    """

    bodies: str
    checksummed: str | None
    amounts: list[int]
    leaves: list[bytes]
    index_of: dict[bytes, int]


def _amount_word(amount: object, where: str) -> bytes:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise invalid_value(where, f"amount {amount!r} is not an integer")
    try:
        return amount.to_bytes(32, "big")
    except OverflowError:  # negative, or 2**256 and above
        raise invalid_value(
            where, f"amount {amount} is outside uint256 (0 to 2**256 - 1)", "uint256"
        ) from None


def check_entry(value: object, hasher: Hasher, where: str = "value") -> tuple[bytes, str, int, bytes]:
    """Check one ``(address, amount)`` pair.

    Returns:
        The 20-byte address, its 40 lower-case hex digits, the amount and ``abi.encode(address, amount)``.

    Raises:
        InvalidInput: the pair, the address or the amount is malformed (``where`` names it).
    """
    if not isinstance(value, tuple | list) or len(value) != 2:
        raise invalid_value(where, f"{value!r} is not a pair (address, amount)")
    address, amount = value
    raw, lower = parse_address(address, hasher.keccak, where)
    word = _amount_word(amount, where)
    return raw, lower, amount, _ADDRESS_PAD + raw + word


def check_values(values: Sequence[tuple[str, int]], hasher: Hasher) -> Entries:
    """Check every value and that each address appears once, and hash the leaves.

    Raises:
        InvalidInput: no values, a malformed value (its index is named), or a repeated address.
    """
    if len(values) == 0:
        raise InvalidInput(
            "values is empty: a Merkle tree needs at least one (address, amount)", field="values"
        )
    # The bulk path takes well-formed input in a few C-speed passes; anything unusual goes to the
    # per-value path, which is the reference and names the first bad index.
    entries, raws = _check_in_bulk(values, hasher) or _check_one_by_one(values, hasher)
    if len(entries.index_of) != len(raws):
        raise _duplicate(raws, hasher)
    return entries


def _check_one_by_one(values: Sequence[object], hasher: Hasher) -> tuple[Entries, list[bytes]]:
    raws, bodies, amounts, leaves = [], [], [], []
    for i, value in enumerate(values):
        raw, lower, amount, encoded = check_entry(value, hasher, f"values[{i}]")
        raws.append(raw)
        bodies.append(lower)
        amounts.append(amount)
        leaves.append(hasher.keccak2(encoded))
    index_of = dict(zip(raws, range(len(raws)), strict=True))
    return Entries("".join(bodies), None, amounts, leaves, index_of), raws


def _check_in_bulk(values: Sequence[tuple[str, int]], hasher: Hasher) -> tuple[Entries, list[bytes]] | None:
    """The same checks for the common shapes, or None to send the values one by one."""
    try:
        if not set(map(type, values)) <= {tuple, list} or set(map(len, values)) != {2}:
            return None
        amounts = [value[1] for value in values]
        if set(map(type, amounts)) != {int}:  # also refuses bool
            return None
        words = [amount.to_bytes(32, "big") for amount in amounts]
    except (TypeError, OverflowError):  # no len(); an amount outside uint256
        return None
    addresses = parse_addresses([value[0] for value in values], hasher.keccak)
    if addresses is None:
        return None
    bodies, raw, checksummed = addresses
    raws = [raw[i : i + 20] for i in range(0, len(raw), 20)]
    keccak2 = hasher.keccak2  # encoded and hashed in one pass: no list of 64-byte encodings
    leaves = [keccak2(_ADDRESS_PAD + address + word) for address, word in zip(raws, words, strict=True)]
    index_of = dict(zip(raws, range(len(raws)), strict=True))
    return Entries(bodies, checksummed, amounts, leaves, index_of), raws


def _duplicate(raws: list[bytes], hasher: Hasher) -> InvalidInput:
    first: dict[bytes, int] = {}
    for i, raw in enumerate(raws):
        if raw in first:
            account = checksum_address(raw.hex(), hasher.keccak)
            return invalid_value(
                f"values[{i}]",
                f"account {account} already appears at values[{first[raw]}]; entitlements are "
                "cumulative, so give each account one total amount",
            )
        first[raw] = i
    raise AssertionError("no repeated address")  # pragma: no cover - called only when there is one


def values_from_json(data: object, field: str = "values") -> list[tuple[str, int]]:
    """Values as JSON gives them: ``[[address, amount], …]``, each amount a decimal string or an integer.

    Addresses are passed through unchecked (:func:`check_values` checks them).

    Raises:
        InvalidInput: not a list of pairs, or an amount that is neither (hex, floats and signs are refused).
    """
    if not isinstance(data, list):
        raise InvalidInput(f"{field} must be a JSON array of [address, amount] pairs", field=field)
    values: list[tuple[str, int]] = []
    for i, pair in enumerate(data):
        if not isinstance(pair, list) or len(pair) != 2:
            raise InvalidInput(f"{field}[{i}]: {pair!r} is not a pair [address, amount]", field=field)
        values.append((pair[0], _json_amount(pair[1], f"{field}[{i}]", field)))
    return values


def _json_amount(amount: object, where: str, field: str) -> int:
    if isinstance(amount, int) and not isinstance(amount, bool):
        return amount
    if isinstance(amount, str) and amount.isascii() and amount.isdigit():
        digits = amount.lstrip("0") or "0"
        if len(digits) > _UINT256_DIGITS:  # also keeps int() off very long strings
            raise InvalidInput(f"{where}: amount {amount} is outside uint256", field=field, limit="uint256")
        return int(digits)
    raise InvalidInput(
        f'{where}: amount {amount!r} is not a decimal string or an integer (e.g. "1500000000000000000")',
        field=field,
    )
