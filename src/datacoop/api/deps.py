"""Annotated dependencies every route uses: the node, and the signed-in participant."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from datacoop.app import Node
from datacoop.db.models import Participant
from datacoop.errors import NotAuthenticated

__all__ = ["BearerToken", "CurrentParticipant", "NodeDep"]

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
