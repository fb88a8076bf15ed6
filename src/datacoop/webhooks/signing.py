"""How a delivery is signed and how a receiver checks it (``docs/webhooks.md`` shows the same in a snippet).

The signature is ``HMAC-SHA256(secret, f"{timestamp}.{body}")`` in hex, sent as ``v1=<hex>``: the
timestamp is inside what is signed, so an old delivery cannot be replayed with a fresh timestamp; a
receiver refuses timestamps older than its tolerance and drops event ids it has seen.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from datacoop.errors import Forbidden

__all__ = [
    "EVENT_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "TOLERANCE_S",
    "TYPE_HEADER",
    "headers",
    "new_secret",
    "sign",
    "verify",
]

EVENT_HEADER = "DataCoop-Event-Id"
TYPE_HEADER = "DataCoop-Event-Type"
TIMESTAMP_HEADER = "DataCoop-Timestamp"
SIGNATURE_HEADER = "DataCoop-Signature"
TOLERANCE_S = 300
"""How old a timestamp a receiver should accept, in seconds."""


def new_secret() -> str:
    """A subscription's signing secret: 32 random bytes, shown to its owner once."""
    return "whsec_" + secrets.token_hex(32)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``DataCoop-Signature`` value of ``body`` sent at ``timestamp`` (unix seconds)."""
    message = str(timestamp).encode() + b"." + body
    return "v1=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def headers(secret: str, event_id: str, event_type: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Every header of one delivery attempt."""
    return {
        "Content-Type": "application/json",
        "User-Agent": "DataCoop-Webhooks/1",
        EVENT_HEADER: event_id,
        TYPE_HEADER: event_type,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, timestamp, body),
    }


def verify(
    secret: str, timestamp: str, signature: str, body: bytes, *, now: int, tolerance: int = TOLERANCE_S
) -> None:
    """Check a delivery as a receiver does (what the tests and Python receivers may call).

    Raises:
        Forbidden: (``signature``) it was not signed with ``secret`` over this body and timestamp;
            (``timestamp``) not a number, or further than ``tolerance`` seconds from ``now``.
    """
    try:
        sent = int(timestamp)
    except ValueError:
        raise Forbidden("the timestamp is not unix seconds", field="timestamp") from None
    if abs(now - sent) > tolerance:
        raise Forbidden(
            f"the timestamp is {now - sent} s from now (at most {tolerance}): a replay or a wrong clock",
            field="timestamp",
            limit=tolerance,
        )
    # bytes, not str: compare_digest raises TypeError on a str with non-ASCII characters
    if not hmac.compare_digest(signature.encode(), sign(secret, sent, body).encode()):
        raise Forbidden("the signature does not match the body and timestamp", field="signature")
