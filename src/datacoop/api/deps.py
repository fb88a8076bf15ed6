"""Annotated dependencies every route uses: the service it calls, and who is calling.

A route takes the narrow service it needs (``TasksDep``, ``ReviewDep``, …: one alias per service of
the :class:`~datacoop.app.Node`); ``NodeDep`` is left to the few routes that need several parts of
the node at once (a service and a worker pool to wake, the blob store, the chain).

Who may call a route is part of its signature: ``CurrentCaller`` (any signed-in account; the
service then checks the caller's role on the resource), ``OptionalCaller`` (anyone; a signed-in
caller may see more), ``Operator`` (the node's operator only), or none of them (public). The full
route × role list is ``tests/unit/api/access_table.py``; ``test_authorization.py`` holds every route
of ``/openapi.json`` to it.

A route gets a :class:`~datacoop.identity.schemas.Caller` (a frozen value, not the database row, so
nothing is lazy-loaded outside the service's transaction); the services take that ``Caller``. The
session lookup resolves the token to it in one transaction (``AuthService.resolve``), once per request.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from datacoop.app import Node
from datacoop.compute.service import ComputeService
from datacoop.datasets.service import DatasetService
from datacoop.errors import Forbidden, NotAuthenticated
from datacoop.exchange.service import ExchangeService
from datacoop.health import HealthService
from datacoop.identity.addresses import normalize_address
from datacoop.identity.eip712 import Eip712Domain
from datacoop.identity.schemas import Caller
from datacoop.identity.sessions import AuthService
from datacoop.review.service import ReviewService
from datacoop.settlement.service import SettlementService
from datacoop.tasks.blobs import BlobService
from datacoop.tasks.dashboard import TaskDashboardService
from datacoop.tasks.service import TaskService
from datacoop.tasks.submissions import SubmissionService
from datacoop.webhooks.service import WebhookService

__all__ = [
    "OPTIONAL_AUTH",
    "AuthDep",
    "BearerToken",
    "BlobsDep",
    "CallerIsOperator",
    "ComputeDep",
    "CurrentCaller",
    "DashboardDep",
    "DatasetsDep",
    "Eip712Dep",
    "ExchangeDep",
    "HealthDep",
    "NodeDep",
    "Operator",
    "OptionalCaller",
    "ReviewDep",
    "SettlementDep",
    "SubmissionsDep",
    "TasksDep",
    "WebhooksDep",
    "is_operator",
    "own_address",
]

_bearer = HTTPBearer(auto_error=False, description="session token from POST /v1/auth/siwe")


def _node(request: Request) -> Node:
    node: Node = request.app.state.node
    return node


NodeDep = Annotated[Node, Depends(_node)]


# One alias per service a route calls: the route names what it uses, not the whole node.
def _auth(node: NodeDep) -> AuthService:
    return node.auth


def _tasks(node: NodeDep) -> TaskService:
    return node.tasks


def _blobs(node: NodeDep) -> BlobService:
    return node.blobs


def _submissions(node: NodeDep) -> SubmissionService:
    return node.submissions


def _dashboard(node: NodeDep) -> TaskDashboardService:
    return node.dashboard


def _datasets(node: NodeDep) -> DatasetService:
    return node.datasets


def _review(node: NodeDep) -> ReviewService:
    return node.review


def _settlement(node: NodeDep) -> SettlementService:
    return node.settlement


def _compute(node: NodeDep) -> ComputeService:
    return node.compute


def _health(node: NodeDep) -> HealthService:
    return node.health


def _eip712(node: NodeDep) -> Eip712Domain:
    return node.eip712


AuthDep = Annotated[AuthService, Depends(_auth)]
TasksDep = Annotated[TaskService, Depends(_tasks)]
BlobsDep = Annotated[BlobService, Depends(_blobs)]
SubmissionsDep = Annotated[SubmissionService, Depends(_submissions)]
DashboardDep = Annotated[TaskDashboardService, Depends(_dashboard)]
DatasetsDep = Annotated[DatasetService, Depends(_datasets)]
ReviewDep = Annotated[ReviewService, Depends(_review)]
SettlementDep = Annotated[SettlementService, Depends(_settlement)]
ComputeDep = Annotated[ComputeService, Depends(_compute)]
HealthDep = Annotated[HealthService, Depends(_health)]
Eip712Dep = Annotated[Eip712Domain, Depends(_eip712)]


def _token(creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> str:
    if creds is None or not creds.credentials:
        raise NotAuthenticated("sign in first: send 'Authorization: Bearer <token>'", field="authorization")
    return creds.credentials


BearerToken = Annotated[str, Depends(_token)]


def _caller(auth: AuthDep, token: BearerToken) -> Caller:
    return auth.resolve(token)


CurrentCaller = Annotated[Caller, Depends(_caller)]


def _maybe_caller(
    auth: AuthDep, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Caller | None:
    """The caller when a token is sent (a bad token is still refused: 401), else None."""
    if creds is None or not creds.credentials:
        return None
    return auth.resolve(creds.credentials)


OptionalCaller = Annotated[Caller | None, Depends(_maybe_caller)]

OPTIONAL_AUTH: dict[str, Any] = {"security": [{}]}
"""``openapi_extra`` for a route taking ``OptionalCaller``: adds the empty requirement beside the
bearer one FastAPI lists, so the schema says a token is optional."""


def is_operator(node: Node, who: Caller | None) -> bool:
    """Whether ``who`` is the node's operator: the account that sends its chain transactions."""
    return who is not None and node.chain is not None and who.address == node.chain.operator.address


def own_address(who: Caller, address: str, what: str, *, operator: bool) -> str:
    """``address`` when it is the caller's own (or ``operator``: the caller is the node's operator),
    else 403 naming it."""
    account = normalize_address(address, field="address")
    if account != who.address and not operator:
        raise Forbidden(f"{what} shown to their owner only", field="address")
    return account


def _caller_is_operator(node: NodeDep, who: CurrentCaller) -> bool:
    return is_operator(node, who)


CallerIsOperator = Annotated[bool, Depends(_caller_is_operator)]
"""Whether the signed-in caller is the node's operator (a route that shows the operator more)."""


def _operator(who: CurrentCaller, operator: CallerIsOperator) -> Caller:
    if not operator:
        raise Forbidden("only the node's operator may do this", field="authorization")
    return who


Operator = Annotated[Caller, Depends(_operator)]


def _exchange(node: NodeDep) -> ExchangeService:
    return node.exchange


ExchangeDep = Annotated[ExchangeService, Depends(_exchange)]
"""The node's exchange: listings, orders, downloads and royalties."""


def _webhooks(node: NodeDep) -> WebhookService:
    return node.webhooks


WebhooksDep = Annotated[WebhookService, Depends(_webhooks)]
"""The node's webhooks: a participant's subscriptions and their delivery log."""
