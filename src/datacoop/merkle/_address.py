"""Ethereum addresses as leaf values: ``0x`` and 40 hex digits, EIP-55 checked where the case is mixed.

All lower or all upper case carries no checksum and is taken as it is; mixed case must be exactly
the EIP-55 form (a typo in a checksummed address is caught instead of paying a stranger).
"""

from __future__ import annotations

from collections.abc import Callable

from datacoop.errors import InvalidInput

__all__ = ["checksum_address", "checksum_bodies", "invalid_value", "parse_address", "parse_addresses"]

Keccak = Callable[[bytes], bytes]

# bytes.translate tables: 0x20 is the bit that separates 'a'..'f' from 'A'..'F' in ASCII.
_HASH_NIBBLE_HIGH = bytes.maketrans(b"0123456789abcdef", bytes(8) + b"\x20" * 8)
_IS_LETTER = bytes.maketrans(b"0123456789abcdef", bytes(10) + b"\x20" * 6)


def invalid_value(where: str, problem: str, limit: str | None = None) -> InvalidInput:
    """The error for a bad leaf value: ``field`` is ``values``, the message starts with ``where``."""
    return InvalidInput(f"{where}: {problem}", field="values", limit=limit)


def checksum_address(lower_hex: str, keccak: Keccak) -> str:
    """The EIP-55 form of 40 lower-case hex digits: a letter is upper case where the hash nibble is ≥ 8."""
    return "0x" + checksum_bodies(lower_hex, keccak)


def checksum_bodies(lower_bodies: str, keccak: Keccak) -> str:
    """:func:`checksum_address` of many addresses at once: 40 lower-case digits each, concatenated."""
    body = lower_bodies.encode("ascii")
    nibbles = b"".join([keccak(body[i : i + 40])[:20] for i in range(0, len(body), 40)]).hex()
    # One AND and one XOR of big integers instead of a Python loop over every character.
    flip = int.from_bytes(nibbles.encode("ascii").translate(_HASH_NIBBLE_HIGH), "big") & int.from_bytes(
        body.translate(_IS_LETTER), "big"
    )
    return (int.from_bytes(body, "big") ^ flip).to_bytes(len(body), "big").decode("ascii")


def _hex_body(address: object) -> tuple[str, bytes] | None:
    if not (isinstance(address, str) and len(address) == 42 and address.startswith("0x")):
        return None
    body = address[2:]
    try:
        raw = bytes.fromhex(body)
    except ValueError:
        return None
    return (body, raw) if len(raw) == 20 else None  # fromhex skips spaces: "12 34…" comes out short


def parse_address(address: object, keccak: Keccak, where: str) -> tuple[bytes, str]:
    """One address as its 20 bytes and 40 lower-case hex digits.

    Raises:
        InvalidInput: not ``0x`` and 40 hex digits, or mixed case with a wrong EIP-55 checksum.
    """
    parsed = _hex_body(address)
    if parsed is None:
        raise invalid_value(where, f"address {address!r} is not 0x followed by 40 hex digits")
    body, raw = parsed
    lower = body.lower()
    if body not in (lower, body.upper()):
        expected = checksum_address(lower, keccak)
        if body != expected[2:]:
            raise invalid_value(
                where, f"address {address} has a wrong EIP-55 checksum (did you mean {expected}?)"
            )
    return raw, lower


def parse_addresses(addresses: list[str], keccak: Keccak) -> tuple[str, bytes, str | None] | None:
    """Many addresses in a few passes over their concatenation, or None where one needs a closer look.

    Takes only the two common shapes: all lower case, or all EIP-55. Anything else (an error, upper
    case, a mix) gives None, and the caller checks the addresses one by one with :func:`parse_address`.

    Returns:
        The lower-case digits and the bytes of all addresses concatenated, and the EIP-55 digits where
        they were computed (checksummed input), else None.
    """
    try:
        joined = "".join(addresses)
    except TypeError:  # a non-str
        return None
    count = len(addresses)
    if set(map(len, addresses)) != {42} or joined[0::42] != "0" * count or joined[1::42] != "x" * count:
        return None
    # Each address has one "0x" where checked above, so a stray one elsewhere makes the result short.
    given = joined.replace("0x", "")
    try:
        raw = bytes.fromhex(given)
    except ValueError:
        return None
    if len(given) != 40 * count or len(raw) != 20 * count:
        return None
    lower = given.lower()
    if given == lower:
        return lower, raw, None
    checksummed = checksum_bodies(lower, keccak)
    return (lower, raw, checksummed) if given == checksummed else None
