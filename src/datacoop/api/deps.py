"""Annotated dependencies every route uses: the node, and who is calling.

Who may call a route is part of its signature: ``CurrentCaller`` (any signed-in account; the
service then checks the caller's role on the resource), ``OptionalCaller`` (anyone; a signed-in
caller may see more), ``Operator`` (the node's operator only), or none of them (public). The full
route × role list is ``tests/unit/api/access_table.py``; ``test_authorization.py`` holds every route
of ``/openapi.json`` to it.

A route gets a :class:`~datacoop.identity.schemas.Caller` (a frozen value). ``CurrentParticipant``,
the database row, is left only for routes whose service still takes the row (``who: Participant``);
it goes when those services take a ``Caller`` (plan 3.6). Both come from one lookup per request:
FastAPI runs ``_participant`` once and ``_caller`` derives from it.
"""

from __future__ import annotations

from typing import Annotated, Any, Protocol

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from datacoop.app import Node
from datacoop.db.models import Participant
from datacoop.errors import Forbidden, NotAuthenticated
from datacoop.identity.addresses import normalize_address
from datacoop.identity.schemas import Caller

__all__ = [
    "OPTIONAL_AUTH",
    "BearerToken",
    "CurrentCaller",
    "CurrentParticipant",
    "NodeDep",
    "Operator",
    "OptionalCaller",
    "OptionalParticipant",
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


def _participant(node: NodeDep, token: BearerToken) -> Participant:
    return node.auth.authenticate(token)


CurrentParticipant = Annotated[Participant, Depends(_participant)]


def _caller(node: NodeDep, who: CurrentParticipant) -> Caller:
    return node.auth.caller(who)


CurrentCaller = Annotated[Caller, Depends(_caller)]


def _maybe_participant(
    node: NodeDep, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Participant | None:
    """The caller when a token is sent (a bad token is still refused: 401), else None."""
    if creds is None or not creds.credentials:
        return None
    return node.auth.authenticate(creds.credentials)


OptionalParticipant = Annotated[Participant | None, Depends(_maybe_participant)]


def _maybe_caller(node: NodeDep, who: OptionalParticipant) -> Caller | None:
    return None if who is None else node.auth.caller(who)


OptionalCaller = Annotated[Caller | None, Depends(_maybe_caller)]

OPTIONAL_AUTH: dict[str, Any] = {"security": [{}]}
"""``openapi_extra`` for a route taking ``OptionalCaller``: adds the empty requirement beside the
bearer one FastAPI lists, so the schema says a token is optional."""


class _Account(Protocol):
    """A caller or (until the services take a Caller) a participant row: what has an address."""

    @property
    def address(self) -> str: ...


def is_operator(node: Node, who: _Account | None) -> bool:
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
