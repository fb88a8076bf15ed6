"""The FastAPI application: routers under /v1 over one Node."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from datacoop import __version__
from datacoop.api.body_limit import JsonDepthGuard, JsonTooLarge
from datacoop.api.errors import error_responses, install_error_handlers
from datacoop.api.observe import ObserveRequests
from datacoop.api.observe import router as metrics_router
from datacoop.api.openapi import install_exact_openapi
from datacoop.api.routes import (
    auth,
    blobs,
    chain,
    compute,
    datasets,
    exchange,
    meta,
    reviews,
    settlement,
    submissions,
    tasks,
    webhooks,
)
from datacoop.api.web import dev_router, mount_web
from datacoop.app import Node
from datacoop.identity.ratelimits import RateLimits, limits_from
from datacoop.metrics import NodeMetrics

__all__ = ["create_app"]


def create_app(node: Node) -> FastAPI:
    app = FastAPI(
        title="DataCoop",
        version=__version__,
        summary="Community-sourced AI training data with verifiable provenance.",
        openapi_url="/openapi.json",
    )
    app.state.node = node
    app.state.rate_limits = RateLimits(node.db, limits_from(node.settings))
    v1 = APIRouter(prefix="/v1", responses=error_responses())  # every route documents its errors
    for module in (meta, auth, tasks, blobs, submissions, reviews, datasets, settlement):
        v1.include_router(module.router)
    v1.include_router(exchange.router)
    v1.include_router(compute.router)
    v1.include_router(chain.router)
    v1.include_router(webhooks.router)
    v1.include_router(dev_router)
    app.include_router(v1, max_body_size=node.settings.max_request_body_bytes)  # blobs: their own
    app.state.metrics = NodeMetrics(node.db)
    app.include_router(metrics_router)  # Prometheus' page, outside /v1 and the OpenAPI document
    mount_web(app)  # last: the web app's catch-all answers only what no API route does
    install_error_handlers(app)
    install_exact_openapi(app)
    app.add_middleware(JsonTooLarge)
    app.add_middleware(JsonDepthGuard)  # no JSON body reaches the recursive C parser nested deeper than 64
    app.add_middleware(ObserveRequests, metrics=app.state.metrics)  # outermost: id, time and log every answer
    if node.settings.cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=node.settings.cors_origins, allow_methods=["*"], allow_headers=["*"]
        )
    return app
