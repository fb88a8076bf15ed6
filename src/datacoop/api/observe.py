"""Every request observed once: an id (``X-Request-Id``), a latency sample, an access line; and GET /metrics.

The route label is the matched template (``/v1/tasks/{task_id}``), never the raw path, so the
number of series stays bounded whatever ids callers send; a path no route matched counts as
``unmatched``. The metrics page carries aggregates only (see :mod:`datacoop.metrics`); a deployment
that wants it private serves it behind its own network policy, as Prometheus targets usually are.
"""

from __future__ import annotations

import logging
import time

from fastapi import APIRouter, Request, Response
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from datacoop.logs import REQUEST_ID, new_request_id
from datacoop.metrics import CONTENT_TYPE_LATEST, NodeMetrics

__all__ = ["ObserveRequests", "router"]

access_log = logging.getLogger("datacoop.access")
router = APIRouter()


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    registry: NodeMetrics = request.app.state.metrics
    return Response(registry.render(), media_type=CONTENT_TYPE_LATEST)


class ObserveRequests:
    """ASGI middleware: gives each HTTP request an id, then times and logs it under its route template."""

    def __init__(self, app: ASGIApp, metrics: NodeMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id(Headers(scope=scope).get("x-request-id"))
        token = REQUEST_ID.set(request_id)
        status = [500]  # what a handler that raises past every error handler answers

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = _template(scope)
            self.metrics.observe_request(scope["method"], route, status[0], seconds)
            access_log.info(
                "%s %s -> %d in %.1f ms", scope["method"], route, status[0], seconds * 1000,
                extra={"method": scope["method"], "route": route, "status": status[0],
                       "duration_ms": round(seconds * 1000, 1)},
            )  # fmt: skip
            REQUEST_ID.reset(token)


def _template(scope: Scope) -> str:
    """The matched route's full path template (prefixes included), or ``unmatched``."""
    # FastAPI (0.16x) includes routers lazily: scope["route"] is the route as declared, without the
    # prefixes of the routers it was included through; the route it chose, prefixes applied, sits
    # in scope["fastapi"], as its OpenTelemetry support reads it for `http.route`.
    chosen = [
        v for v in scope.get("fastapi", {}).values() if isinstance(getattr(v, "path_format", None), str)
    ]
    if chosen:
        return str(chosen[0].path_format)
    return str(getattr(scope.get("route"), "path", None) or "unmatched")
