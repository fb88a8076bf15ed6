"""What webhooks allow, in pure functions: the event types, who may have an endpoint where, the back-off."""

from __future__ import annotations

import enum
import ipaddress
import random
from datetime import timedelta
from urllib.parse import urlsplit

from datacoop.errors import InvalidInput

__all__ = ["MAX_SUBSCRIPTIONS", "MAX_URL_LENGTH", "EventType", "backoff", "check_url"]

MAX_SUBSCRIPTIONS = 20
"""Endpoints one participant may register."""
MAX_URL_LENGTH = 2000


class EventType(enum.StrEnum):
    """What a subscriber may ask for, and who is entitled to it."""

    SUBMISSION_DECIDED = "submission.decided"  # the task's requester
    EPOCH_POSTED = "epoch.posted"  # the task's requester, once the root is confirmed on chain
    VERSION_FROZEN = "version.frozen"  # the requesters of the version's tasks
    ORDER_DELIVERED = "order.delivered"  # the order's buyer


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_internal(host: str) -> bool:
    """An IP literal no public endpoint has (private, loopback, link-local…); names are not resolved."""
    if host == "localhost":
        return True
    try:
        return not ipaddress.ip_address(host).is_global
    except ValueError:
        return False


def check_url(url: str, *, allow_loopback_http: bool) -> str:
    """``url`` when a delivery may go there: https, or http to this machine on a development node.

    An https URL naming a private, loopback or link-local IP is refused (loopback allowed in development):
    a subscriber must not point the node at its own network. Host names are not resolved here.

    Raises:
        InvalidInput: (``url``) another scheme, no host, credentials in it, plain http elsewhere, or an
            internal IP address.
    """
    if len(url) > MAX_URL_LENGTH:
        raise InvalidInput(
            f"url is longer than {MAX_URL_LENGTH} characters", field="url", limit=MAX_URL_LENGTH
        )
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - raises ValueError on a port out of range
    except ValueError:
        raise InvalidInput("url is not a valid URL", field="url") from None
    if not host or parts.username is not None or parts.password is not None or parts.fragment:
        raise InvalidInput("url must name a host, without credentials or a fragment", field="url")
    if parts.scheme == "https" and not _is_internal(host):
        return url
    if parts.scheme == "https" and allow_loopback_http and _is_loopback(host):
        return url
    if parts.scheme == "https":
        raise InvalidInput("url must not name a private, loopback or link-local address", field="url")
    if parts.scheme == "http" and _is_loopback(host):
        if allow_loopback_http:
            return url
        raise InvalidInput("url must be https on a production node", field="url")
    raise InvalidInput(
        "url must be https (plain http only to 127.0.0.1, ::1 or localhost, on a development node)",
        field="url",
    )


def backoff(attempts: int, *, base: timedelta, cap: timedelta, rng: random.Random | None = None) -> timedelta:
    """How long to wait after the ``attempts``-th failed try: ``base · 2^(attempts-1)``, at most ``cap``,
    with "equal jitter" (between half of it and all of it), so receivers coming back are not stampeded."""
    exponent = min(max(attempts, 1) - 1, 64)  # in float seconds: 2^64 passes every cap, never overflows
    half = min(base.total_seconds() * 2.0**exponent, cap.total_seconds()) / 2
    return timedelta(seconds=half + half * (rng or random).random())
