"""Annotated dependencies every route uses: the node, and who is calling.

Who may call a route is part of its signature: ``CurrentCaller`` (any signed-in account; the
service then checks the caller's role on the resource), ``OptionalCaller`` (anyone; a signed-in
caller may see more), ``Operator`` (the node's operator only), or none of them (public). The full
route × role list is ``tests/unit/api/access_table.py``; ``test_authorization.py`` holds every route
of ``/openapi.json`` to it.

A route gets a :class:`~datacoop.identity.schemas.Caller` (a frozen value, not the database row, so
nothing is lazy-loaded outside the service's transaction); the services take that ``Caller``. The
session lookup resolves the token to it in one transaction (``node.auth.resolve``), once per request.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from datacoop.app import Node
from datacoop.errors import Forbidden, NotAuthenticated
from datacoop.identity.addresses import normalize_address
from datacoop.identity.schemas import Caller

__all__ = [
    "OPTIONAL_AUTH",
    "BearerToken",
    "CurrentCaller",
    "NodeDep",
    "Operator",
    "OptionalCaller",
    "is_operator",
    "own_account",
]

_bearer = HTTPBearer(auto_error=False, description="session token from POST /v1/auth/siwe")


def _node(request: Request) -> Node:
    node: Node = request.app.state.node
    return node


NodeDep = Annotated[Node, Depends(_node)]


def _token(creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> str:
    if creds is None or not creds.credentials:
        raise NotAuthenticated("sign in first: send 'Authorization: Bearer <token>'", field="authorization")
    return creds.credentials


BearerToken = Annotated[str, Depends(_token)]


def _caller(node: NodeDep, token: BearerToken) -> Caller:
    return node.auth.resolve(token)


CurrentCaller = Annotated[Caller, Depends(_caller)]


def _maybe_caller(
    node: NodeDep, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Caller | None:
    """The caller when a token is sent (a bad token is still refused: 401), else None."""
    if creds is None or not creds.credentials:
        return None
    return node.auth.resolve(creds.credentials)


OptionalCaller = Annotated[Caller | None, Depends(_maybe_caller)]

OPTIONAL_AUTH: dict[str, Any] = {"security": [{}]}
"""``openapi_extra`` for a route taking ``OptionalCaller``: adds the empty requirement beside the
bearer one FastAPI lists, so the schema says a token is optional."""


def is_operator(node: Node, who: Caller | None) -> bool:
    """Whether ``who`` is the node's operator: the account that sends its chain transactions."""
    return who is not None and node.chain is not None and who.address == node.chain.operator.address


def own_account(node: Node, who: Caller, address: str, what: str) -> str:
    """``address`` when it is the caller's own (or the caller is the operator), else 403 naming it."""
    account = normalize_address(address, field="address")
    if account != who.address and not is_operator(node, who):
        raise Forbidden(f"{what} shown to their owner only", field="address")
    return account


def _operator(node: NodeDep, who: CurrentCaller) -> Caller:
    if not is_operator(node, who):
        raise Forbidden("only the node's operator may do this", field="authorization")
    return who


Operator = Annotated[Caller, Depends(_operator)]
