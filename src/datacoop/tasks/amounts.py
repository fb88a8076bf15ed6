"""Token amounts in a token's own units: ``12500000`` base units of a 6-decimal token is ``12.5 USDC``.

Pure text ↔ integer conversion, exact at any size (no floats, no decimal context to round in). The
SDK, the command line and the services share it; reading a token's symbol and decimals from the
chain is :mod:`datacoop.chain.tokens`'s job.
"""

from __future__ import annotations

import re

from datacoop.errors import InvalidInput, Unprocessable

__all__ = ["MAX_DECIMALS", "format_units", "parse_units"]

MAX_DECIMALS = 77  # 10**77 < 2**256 < 10**78: a token with more decimals cannot hold one whole token
_UINT256_END = 2**256
_AMOUNT = re.compile(r"^(\d+)(?:\.(\d+))?$")


def format_units(units: int | str, decimals: int, symbol: str = "") -> str:
    """``units`` base units as a decimal number of tokens, trailing zeros dropped, then ``symbol``.

    >>> format_units(12_500_000, 6, "USDC")
    '12.5 USDC'
    """
    value = int(units)
    sign, value = ("-", -value) if value < 0 else ("", value)
    whole, frac = divmod(value, 10**decimals)
    text = f"{sign}{whole}"
    if frac:
        text += "." + str(frac).rjust(decimals, "0").rstrip("0")
    return f"{text} {symbol}" if symbol else text


def parse_units(text: str, decimals: int, field: str = "amount", *, allow_zero: bool = False) -> int:
    """Tokens as a person types them (``100``, ``12.5``) → base units.

    Raises:
        InvalidInput: not a plain decimal number (``field`` named).
        Unprocessable: more decimal places than the token has (the limit is ``decimals``), zero where
            ``allow_zero`` is False, or more than a uint256 holds.
    """
    match = _AMOUNT.fullmatch(text.strip().replace("_", ""))
    if match is None:
        raise InvalidInput(
            f"{field} must be a number of tokens such as 100 or 12.5, got {text!r}", field=field
        )
    whole, frac = match.group(1), (match.group(2) or "").rstrip("0")
    if len(frac) > decimals:
        raise Unprocessable(
            f"{field} has {len(frac)} decimal places; the token has {decimals}, got {text!r}",
            field=field,
            limit=decimals,
        )
    units: int = int(whole) * 10**decimals + (int(frac.ljust(decimals, "0")) if frac else 0)
    if units == 0 and not allow_zero:
        raise Unprocessable(f"{field} must be more than 0, got {text!r}", field=field, limit=0)
    if units >= _UINT256_END:
        raise Unprocessable(
            f"{field} is more than a uint256 holds, got {text!r}", field=field, limit="2**256-1"
        )
    return units
