"""The API as an ASGI application built from the environment, for `datacoop serve` and any ASGI server.

``uvicorn --factory datacoop.api.asgi:app_from_environment`` builds one node per process from the
``DATACOOP_*`` settings: every process of every replica is stateless (sessions, nonces and rate
limits live in the database), and each runs a chain follower whose outbox lease lets one of them,
across all replicas, sign and send at a time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from datacoop.api.app import create_app
from datacoop.app import build_node
from datacoop.logs import configure_logging
from datacoop.settings import Settings

__all__ = ["app_from_environment"]


def app_from_environment() -> FastAPI:
    """A node from the environment's settings, its chain follower started, served until shutdown.

    The schema is not migrated here (several processes start at once): `datacoop serve` migrates
    once before it starts them; run `datacoop serve` or migrate first when using another server."""
    settings = Settings()
    configure_logging(settings.log_format)  # each process: a spawned worker inherits no logging set-up
    node = build_node(settings, check_stages=False, migrate=False)
    node.start_chain_follower()
    node.start_webhook_workers()  # each process may: a delivery is claimed by one worker at a time
    app = create_app(node)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        node.close()  # after uvicorn has drained this process's requests

    app.router.lifespan_context = lifespan
    return app
