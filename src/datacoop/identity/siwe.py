"""Sign-In with Ethereum (EIP-4361): build a message, and verify one offline.

Parsing uses the ``siwe`` package's strict ABNF grammar. Its ``verify`` is not
used: it recovers over its own re-serialisation of the message and may call a
web3 provider for ERC-1271. Here the signature is checked over the exact text
the wallet signed (an EIP-191 personal message) under the policy of
:mod:`datacoop.identity.signatures`, and smart-contract wallets go through an
explicit ``erc1271_checker`` hook. Keeping the server nonce single-use is the
caller's job: it needs the database.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

from abnf import GrammarWarning
from eth_account.messages import encode_defunct
from pydantic import ValidationError

from datacoop.errors import BadSignature, Gone, InvalidInput, NotAuthenticated, TooLarge
from datacoop.identity.addresses import normalize_address
from datacoop.identity.signatures import decode_signature, recover_digest, signable_digest

if TYPE_CHECKING:
    from siwe import ISO8601Datetime, SiweMessage

__all__ = [
    "DEFAULT_STATEMENT",
    "MAX_MESSAGE_CHARS",
    "Erc1271Checker",
    "SiweClaims",
    "build_message",
    "verify_siwe",
]

DEFAULT_STATEMENT = "Sign in to DataCoop."
MAX_MESSAGE_CHARS = 1024
"""Longer messages are refused before parsing: siwe's ABNF parse time grows with the square of the
length (≈3 ms for a usual 350-character message, ≈70 ms at 1,000 characters, ≈650 ms at 4,000)."""

Erc1271Checker = Callable[[str, bytes, bytes], bool]
"""(contract address, EIP-191 message hash, signature bytes) → whether ``isValidSignature`` accepts them."""


@dataclass(frozen=True)
class SiweClaims:
    """What a verified sign-in message establishes."""

    address: str
    chain_id: int
    nonce: str
    issued_at: datetime
    expiration_time: datetime
    domain: str
    uri: str


class _Siwe(NamedTuple):
    message: type[SiweMessage]
    iso_datetime: type[ISO8601Datetime]


@functools.cache
def _siwe() -> _Siwe:
    """The ``siwe`` package, loaded on first use: it imports web3, which importing the SDK must not load."""
    with warnings.catch_warnings():
        # Import-time noise only: siwe imports web3, whose legacy websocket provider (unused here) is
        # deprecated, and its grammar re-declares RFC 5234 core rules (ALPHA, DIGIT…) identically.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", GrammarWarning)
        from siwe import ISO8601Datetime, SiweMessage
    return _Siwe(SiweMessage, ISO8601Datetime)


def build_message(
    *,
    domain: str,
    address: str,
    uri: str,
    chain_id: int,
    nonce: str,
    issued_at: datetime,
    expiration_time: datetime | None,
    statement: str | None = DEFAULT_STATEMENT,
    not_before: datetime | None = None,
) -> str:
    """The EIP-4361 text a wallet signs with ``personal_sign``.

    Raises:
        InvalidInput: a field EIP-4361 does not allow (named), or a naive datetime.
    """
    fields: dict[str, Any] = {
        "domain": domain,
        "address": normalize_address(address),
        "uri": uri,
        "version": "1",
        "chain_id": chain_id,
        "nonce": nonce,
        "statement": statement,
    }
    times = {"issued_at": issued_at, "expiration_time": expiration_time, "not_before": not_before}
    fields.update({name: _iso(when, name) for name, when in times.items() if when is not None})
    try:
        return str(_siwe().message(**fields).prepare_message())
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else "message"
        raise InvalidInput(f"{field}: {error['msg']}", field=field) from None


def _iso(when: datetime, field: str) -> str:
    if when.tzinfo is None:
        raise InvalidInput(f"{field} must be a timezone-aware datetime", field=field)
    return str(_siwe().iso_datetime.from_datetime(when))


def verify_siwe(
    message_text: str,
    signature: str,
    *,
    expected_domain: str,
    expected_uri: str,
    expected_chain_id: int,
    now: datetime,
    erc1271_checker: Erc1271Checker | None = None,
) -> SiweClaims:
    """Verify a signed sign-in message offline and return its claims (the nonce still to be consumed).

    Args:
        message_text: the exact EIP-4361 text the wallet signed.
        signature: 0x-hex signature of that text as an EIP-191 personal message.
        expected_domain: this service's host (``domain`` must equal it).
        expected_uri: this service's public URL (``uri`` must be on its origin: scheme, host, port).
        expected_chain_id: the chain this service settles on.
        now: the current time, timezone-aware.
        erc1271_checker: asked when the signature does not recover to the message's
            address, to accept smart-contract wallets; ``None`` accepts EOAs only.

    Raises:
        InvalidInput: unparseable ``message``, no ``expiration_time``, wrong ``domain``
            or ``chain_id``, or a malformed ``signature``.
        NotAuthenticated: (``uri``) a URI on another origin than ``expected_uri``.
        TooLarge: a ``message`` over :data:`MAX_MESSAGE_CHARS`.
        Gone: (``expiration_time``) the message has expired.
        NotAuthenticated: (``not_before``) the message is not valid yet.
        BadSignature: (``signature``) not signed by the message's address.
    """
    claims, not_before = _parse(message_text)
    if claims.domain != expected_domain:
        raise InvalidInput(
            f"domain {claims.domain!r} is not this service ({expected_domain!r})",
            field="domain",
            limit=expected_domain,
        )
    _check_uri(claims.uri, expected_uri)
    if claims.chain_id != expected_chain_id:
        raise InvalidInput(
            f"chain_id {claims.chain_id} is not this service's chain {expected_chain_id}",
            field="chain_id",
            limit=expected_chain_id,
        )
    _check_times(claims, not_before, now)
    _check_signer(message_text, signature, claims.address, erc1271_checker)
    return claims


def _origin(uri: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of an absolute URI, the port made explicit for http and https."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:  # a port that is not a number, or out of range
        return ("", "", None)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), port or {"http": 80, "https": 443}.get(scheme)


def _check_uri(uri: str, expected_uri: str) -> None:
    """A message signed for another site's sign-in (phished, or replayed) must not open a session here."""
    expected = _origin(expected_uri)
    if not expected[1] or _origin(uri) != expected:
        scheme, host, port = expected
        origin = f"{scheme}://{host}:{port}"
        raise NotAuthenticated(
            f"uri {uri!r} is not on this service's origin ({origin}): sign the message the nonce came with",
            field="uri",
            limit=origin,
        )


def _parse(message_text: str) -> tuple[SiweClaims, datetime | None]:
    if not isinstance(message_text, str):
        raise InvalidInput("message must be the EIP-4361 text", field="message")
    if len(message_text) > MAX_MESSAGE_CHARS:
        raise TooLarge("message", MAX_MESSAGE_CHARS, unit="characters")
    try:
        parsed = _siwe().message.from_message(message_text, abnf=True)
    except ValueError as exc:  # ABNF ParseError and pydantic ValidationError both arrive as ValueError
        reason = f" ({exc.errors()[0]['msg']})" if isinstance(exc, ValidationError) else ""
        raise InvalidInput(
            f"message is not a valid EIP-4361 sign-in message{reason}", field="message"
        ) from None
    if parsed.expiration_time is None:
        raise InvalidInput("message must carry an Expiration Time", field="expiration_time")
    claims = SiweClaims(
        address=str(parsed.address),
        chain_id=int(parsed.chain_id),
        nonce=str(parsed.nonce),
        issued_at=datetime.fromisoformat(str(parsed.issued_at)),
        expiration_time=datetime.fromisoformat(str(parsed.expiration_time)),
        domain=str(parsed.domain),
        uri=str(parsed.uri),
    )
    not_before = None if parsed.not_before is None else datetime.fromisoformat(str(parsed.not_before))
    return claims, not_before


def _check_times(claims: SiweClaims, not_before: datetime | None, now: datetime) -> None:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")  # a programming error, not user input
    if now >= claims.expiration_time:
        raise Gone(
            f"message expired at {claims.expiration_time.isoformat()}; sign in again",
            field="expiration_time",
            limit=claims.expiration_time.isoformat(),
        )
    if not_before is not None and now < not_before:
        raise NotAuthenticated(
            f"message is not valid before {not_before.isoformat()}",
            field="not_before",
            limit=not_before.isoformat(),
        )


def _check_signer(text: str, signature: str, address: str, erc1271_checker: Erc1271Checker | None) -> None:
    digest = signable_digest(encode_defunct(text=text))
    if erc1271_checker is None:
        signer = recover_digest(digest, signature)
    else:
        raw = decode_signature(signature)
        try:
            signer = recover_digest(digest, raw)
        except (InvalidInput, BadSignature):
            signer = None  # contract wallets sign in their own formats (Safe: concatenated owner signatures)
        if signer != address and erc1271_checker(address, digest, raw):
            return
        if signer is None:
            raise BadSignature(
                f"signature is neither {address}'s key signature nor accepted by its contract (ERC-1271)",
                field="signature",
            )
    if signer != address:
        raise BadSignature(
            f"signature was signed by {signer} but the message is for {address}", field="signature"
        )
