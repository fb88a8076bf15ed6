"""Delivery of an order: short-lived signed URLs, and a tar export that can be read from any byte.

A download URL carries a token ``<payload>.<mac>``: the payload is the base64url JSON of the
order id, the buyer's address, the licence token id and the expiry (unix seconds); the MAC is
HMAC-SHA256 over the payload with the node's ``download_secret``. The token only says *who may
ask*: the request must come from that buyer's signed-in session (a leaked link alone opens
nothing), and every request is checked again against the chain before a byte is sent.

The export is an uncompressed tar in WebDataset layout (``000003.jpg`` beside ``000003.json``),
preceded by ``order.json`` (what was granted and what was withheld, with the rule), laid out by
the datasets' one export path (:meth:`DatasetService.export_archive
<datacoop.datasets.service.DatasetService.export_archive>`, in the tar format of WebDataset
shards). Its headers are fixed (mtime 0, mode 0644, owner 0), so the same order always gives
the same bytes and a download can resume at any offset with an HTTP Range request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass

from datacoop.errors import Forbidden, Gone, InvalidInput

__all__ = ["DeliveryClaim", "check_caller", "parse_range", "read_token", "sign_token"]

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@dataclass(frozen=True)
class DeliveryClaim:
    """What a valid download token says."""

    order_id: int
    buyer: str
    licence_id: int
    expires: int


def _mac(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def sign_token(secret: str, claim: DeliveryClaim) -> str:
    """The token of a download URL for ``claim``."""
    body = json.dumps(
        {"o": claim.order_id, "a": claim.buyer, "l": str(claim.licence_id), "e": claim.expires},
        separators=(",", ":"),
    )
    payload = base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")
    return f"{payload}.{_mac(secret, payload)}"


def read_token(secret: str, token: str, now: int) -> DeliveryClaim:
    """The claim of a token signed with ``secret`` that has not expired at ``now``.

    Raises:
        Forbidden: (``token``) malformed, or not signed by this node.
        Gone: (``token``) the URL expired; ask for a new one.
    """
    payload, _, mac = token.partition(".")
    # bytes, not str: compare_digest raises TypeError on a str with non-ASCII characters
    if not payload or not hmac.compare_digest(mac.encode(), _mac(secret, payload).encode()):
        raise Forbidden("this download link was not issued by this node (bad signature)", field="token")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claim = DeliveryClaim(int(data["o"]), str(data["a"]), int(data["l"]), int(data["e"]))
    if now >= claim.expires:
        raise Gone(
            "this download link has expired: ask for a new one (GET /v1/orders/{id}/download-url)",
            field="token",
            limit=claim.expires,
        )
    return claim


def check_caller(claim: DeliveryClaim, caller: str) -> None:
    """The link is a second factor, never a bearer credential: the signed-in caller must be its buyer.

    Raises:
        Forbidden: (``token``) the caller is not the buyer the link was issued to.
    """
    if caller != claim.buyer:
        raise Forbidden(
            "this download link was issued to another account: sign in as the order's buyer", field="token"
        )


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive byte range one ``Range`` header asks of ``size`` bytes (None: the whole).

    Raises:
        InvalidInput: (``range``) not one ``bytes=a-b`` range, or beyond the end (limit: the size).
    """
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None or match.groups() == ("", ""):
        raise InvalidInput(f"Range must be one 'bytes=start-end' range, got {header!r}", field="range")
    first, last = match.groups()
    if first == "":  # the last N bytes
        start, end = max(size - int(last), 0), size - 1
    else:
        start, end = int(first), min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        raise InvalidInput(
            f"Range {header!r} starts beyond the export's {size} bytes", field="range", limit=size
        )
    return start, end
