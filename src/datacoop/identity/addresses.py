"""Who a participant is: an EVM address, its ``did:pkh`` and the country they contribute from.

Everything here is pure and raises :class:`~datacoop.errors.InvalidInput` naming
the field at fault, so the API and the CLI can pass user input straight in.
"""

from __future__ import annotations

import re

import pycountry
from eth_utils.address import is_checksum_address, to_checksum_address
from eth_utils.crypto import keccak

from datacoop.errors import InvalidInput

__all__ = ["consent_hash", "did_pkh", "normalize_address", "normalize_jurisdiction", "parse_did_pkh"]

_HEX_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_DID_PKH = re.compile(r"did:pkh:eip155:(?P<chain>[1-9][0-9]{0,31}):(?P<address>0x[0-9a-fA-F]{40})")
# Codes people type that ISO 3166-1 does not assign; offered as a hint, never accepted.
_COMMON_MISTAKES = {"UK": "GB", "EL": "GR", "EN": "GB"}


def normalize_address(value: str, field: str = "address") -> str:
    """Return ``value`` as an EIP-55 checksummed address.

    All-lower and all-upper hex are accepted; mixed case must carry a valid
    EIP-55 checksum, because a wrong one usually means a mistyped address.

    Args:
        value: ``0x`` followed by 40 hex digits.
        field: the input field named in the error.

    Raises:
        InvalidInput: not a 20-byte hex address, or a mixed-case one whose checksum fails.
    """
    if not isinstance(value, str) or not _HEX_ADDRESS.fullmatch(value):
        raise InvalidInput(f"{field} must be 0x followed by 40 hex digits, got {value!r}", field=field)
    body = value[2:]
    if body != body.lower() and body != body.upper() and not is_checksum_address(value):
        raise InvalidInput(
            f"{field} {value} has a wrong EIP-55 checksum (mixed case); check it for a typo", field=field
        )
    return str(to_checksum_address(value))


def did_pkh(chain_id: int, address: str) -> str:
    """The ``did:pkh:eip155:<chainId>:<address>`` of an account on a chain (CAIP-10 account id).

    Raises:
        InvalidInput: a chain id that is not a positive integer, or a bad address.
    """
    if isinstance(chain_id, bool) or not isinstance(chain_id, int) or not 0 < chain_id < 10**32:
        raise InvalidInput(f"chain_id must be a positive integer, got {chain_id!r}", field="chain_id")
    return f"did:pkh:eip155:{chain_id}:{normalize_address(address)}"


def parse_did_pkh(did: str) -> tuple[int, str]:
    """Split a ``did:pkh:eip155`` DID into its chain id and checksummed address.

    Raises:
        InvalidInput: (field ``did``) anything but an ``eip155`` ``did:pkh``.
    """
    match = _DID_PKH.fullmatch(did) if isinstance(did, str) else None
    if match is None:
        raise InvalidInput(
            f"did must look like did:pkh:eip155:<chainId>:0x<40 hex digits>, got {did!r}", field="did"
        )
    return int(match["chain"]), normalize_address(match["address"], field="did")


def normalize_jurisdiction(code: str, field: str = "jurisdiction") -> str:
    """Return an ISO 3166-1 alpha-2 country code, upper-case.

    Args:
        code: a two-letter code in any case (surrounding spaces are ignored).
        field: the input field named in the error.

    Raises:
        InvalidInput: not an assigned alpha-2 code; the message suggests one where it
            can (``UK`` → ``GB``, ``KEN`` or ``Kenya`` → ``KE``).
    """
    if not isinstance(code, str):
        raise InvalidInput(f"{field} must be a two-letter ISO 3166-1 code, got {code!r}", field=field)
    upper = code.strip().upper()
    if len(upper) == 2 and upper.isascii() and pycountry.countries.get(alpha_2=upper) is not None:
        return upper
    raise InvalidInput(
        f"{field} {code!r} is not an ISO 3166-1 alpha-2 country code.{_suggest_country(code.strip())}",
        field=field,
    )


def _suggest_country(text: str) -> str:
    """A " Did you mean 'XX'?" hint from a common mistake, an alpha-3 code, a number or a name."""
    if text.upper() in _COMMON_MISTAKES:
        return f" Did you mean {_COMMON_MISTAKES[text.upper()]!r}?"
    try:
        # lookup() matches alpha-3, numeric codes and official/common names exactly, ignoring case.
        country = pycountry.countries.lookup(text)
    except LookupError:
        return ""
    return f" Did you mean {country.alpha_2!r} ({country.name})?"


def consent_hash(text: str) -> str:
    """The 0x-hex keccak256 of a consent text's UTF-8 bytes (what a contributor signs as ``consentHash``)."""
    if not isinstance(text, str):
        raise InvalidInput("consent_text must be a string", field="consent_text")
    return "0x" + keccak(text=text).hex()
