"""Rate-limit dependencies: a route lists one in ``dependencies=[...]`` and each request is counted.

Counters are per client (the peer's IP; run uvicorn with ``--proxy-headers`` behind a proxy)
and per address: the signed-in participant, or for a sign-in the address that provably
signed the message, so nobody can spend another address's budget by naming it.
"""

from __future__ import annotations

import json
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct
from fastapi import Depends, Request
from fastapi.params import Depends as DependsParam

from datacoop.api.deps import CurrentCaller
from datacoop.identity.ratelimits import RateLimits

__all__ = ["SIGN_IN", "SIGN_IN_NONCE", "SUBMISSIONS", "UPLOADS"]

_SIGN_IN_BODY_MAX = 16 * 1024  # a SignIn is at most 1,024 characters of message and 300 of signature


def _limits(request: Request) -> RateLimits:
    limits: RateLimits = request.app.state.rate_limits
    return limits


def _client(request: Request) -> str | None:
    return request.client.host if request.client is not None else None


def _signer(body: Any) -> str | None:
    """The address that signed a SIWE body, if it is the one the message names; else None."""
    try:
        message, signature = str(body["message"]), str(body["signature"])
        claimed = message.splitlines()[1].strip()
        signer = Account.recover_message(encode_defunct(text=message), signature=signature)
    except Exception:  # malformed: the route refuses it; only the client counter applies
        return None
    return str(signer) if signer.lower() == claimed.lower() else None


def _sign_in_nonce(request: Request) -> None:
    _limits(request).hit("sign_in", client=_client(request))


async def _sign_in(request: Request) -> None:
    raw = await request.body()  # cached: the route reads the same bytes
    try:
        body = json.loads(raw) if len(raw) <= _SIGN_IN_BODY_MAX else None
    except (ValueError, RecursionError):
        body = None
    _limits(request).hit("sign_in", client=_client(request), address=_signer(body))


def _uploads(request: Request, who: CurrentCaller) -> None:
    _limits(request).hit("uploads", client=_client(request), address=who.address)


def _submissions(request: Request, who: CurrentCaller) -> None:
    _limits(request).hit("submissions", client=_client(request), address=who.address)


SIGN_IN_NONCE: DependsParam = Depends(_sign_in_nonce)
"""``GET /auth/nonce``: per client."""
SIGN_IN: DependsParam = Depends(_sign_in)
"""``POST /auth/siwe``: per client, and per address once the message's signature proves it."""
UPLOADS: DependsParam = Depends(_uploads)
"""``POST /blobs``: per address and per client."""
SUBMISSIONS: DependsParam = Depends(_submissions)
"""``POST /tasks/{id}/submissions``: per address and per client."""
