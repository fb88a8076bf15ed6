"""GET /metrics for Prometheus, and the middleware that times every request by its route template.

The route label is the matched template (``/v1/tasks/{task_id}``), never the raw path, so the
number of series stays bounded whatever ids callers send; a path no route matched counts as
``unmatched``. The page carries aggregates only (see :mod:`datacoop.metrics`); a deployment that
wants it private serves it behind its own network policy, as Prometheus targets usually are.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Request, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from datacoop.metrics import CONTENT_TYPE_LATEST, NodeMetrics

__all__ = ["RequestTimer", "router"]

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    registry: NodeMetrics = request.app.state.metrics
    return Response(registry.render(), media_type=CONTENT_TYPE_LATEST)


class RequestTimer:
    """ASGI middleware: observes each HTTP request's duration under its route template and status."""

    def __init__(self, app: ASGIApp, metrics: NodeMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = [500]  # what a handler that raises past every error handler answers

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_status)
        finally:
            self.metrics.observe_request(
                scope["method"], _template(scope), status[0], time.perf_counter() - started
            )


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
