"""Short-lived signed download URLs for a job's outputs (HMAC-SHA256, bound to the buyer)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta
from urllib.parse import urlencode

from datacoop.errors import Forbidden, Gone

__all__ = ["OutputSigner"]


class OutputSigner:
    """Signs ``(job, output name, buyer, expiry)``; a URL is good until it expires, for that buyer only."""

    def __init__(self, secret: bytes, ttl: timedelta = timedelta(minutes=10)) -> None:
        if len(secret) < 16:
            raise ValueError("the output signing secret must be at least 16 bytes")
        self._secret, self.ttl = secret, ttl

    def _mac(self, job_id: int, name: str, buyer: str, expires: int) -> str:
        msg = f"compute-output\n{job_id}\n{name}\n{buyer.lower()}\n{expires}".encode()
        return hmac.new(self._secret, msg, hashlib.sha256).hexdigest()

    def sign(self, job_id: int, name: str, buyer: str, now: datetime) -> dict[str, str]:
        """The query parameters of a download URL for one output."""
        expires = int((now + self.ttl).timestamp())
        return {"buyer": buyer, "expires": str(expires), "sig": self._mac(job_id, name, buyer, expires)}

    def query(self, job_id: int, name: str, buyer: str, now: datetime) -> str:
        return urlencode(self.sign(job_id, name, buyer, now))

    def verify(self, job_id: int, name: str, buyer: str, expires: int, sig: str, now: datetime) -> None:
        """Raises Forbidden for a bad signature, Gone for an expired URL."""
        # bytes, not str: compare_digest raises TypeError on a str with non-ASCII characters
        if not hmac.compare_digest(self._mac(job_id, name, buyer, expires).encode(), sig.encode()):
            raise Forbidden("the download link's signature does not match", field="sig")
        if now.timestamp() > expires:
            raise Gone("the download link has expired; ask for a new one", field="expires", limit=expires)
