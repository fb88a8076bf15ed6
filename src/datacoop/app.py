"""The composition root: builds every adapter from Settings and hands them to the services.

Nothing else in DataCoop constructs an adapter or reads Settings, so a test or
a deployment changes wiring here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from datacoop.db import Database
from datacoop.domain.signing import Eip712Domain
from datacoop.services.auth import AuthService
from datacoop.services.blobs import BlobService
from datacoop.services.clock import Clock, utc_now
from datacoop.services.health import HealthService
from datacoop.services.submissions import SubmissionService
from datacoop.services.tasks import TaskService
from datacoop.settings import Settings
from datacoop.storage import BlobStore, open_store

__all__ = ["Node", "build_node"]


@dataclass
class Node:
    """One running DataCoop node: its settings, adapters and services."""

    settings: Settings
    db: Database
    store: BlobStore
    eip712: Eip712Domain
    auth: AuthService
    tasks: TaskService
    blobs: BlobService
    submissions: SubmissionService
    health: HealthService

    def close(self) -> None:
        self.db.dispose()


def _chain_probe(settings: Settings) -> dict[str, Any]:
    # The chain lands with the contracts issue; until then the node says plainly it has none.
    if settings.rpc_url is None:
        return {"status": "not_configured", "chain_id": settings.chain_id}
    return {"status": "not_configured", "rpc_url": settings.rpc_url, "note": "chain client not built yet"}


def build_node(
    settings: Settings, *, db: Database | None = None, clock: Clock = utc_now, migrate: bool = True
) -> Node:
    """Build a node. Pass ``db`` to share one (tests use a PostgreSQL schema of their own)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = db or Database(settings.resolved_database_url)
    if migrate:
        db.migrate()
    store = open_store(settings)
    domain = Eip712Domain(chain_id=settings.chain_id, verifying_contract=settings.verifying_contract)
    auth = AuthService(
        db,
        domain=settings.resolved_siwe_domain,
        uri=settings.resolved_public_url,
        chain_id=settings.chain_id,
        nonce_ttl=timedelta(seconds=settings.nonce_ttl_seconds),
        session_ttl=timedelta(seconds=settings.session_ttl_seconds),
        clock=clock,
    )
    health = HealthService(
        {"database": db.ping, "store": store.health, "chain": lambda: _chain_probe(settings)}
    )
    return Node(
        settings=settings,
        db=db,
        store=store,
        eip712=domain,
        auth=auth,
        tasks=TaskService(db, clock=clock),
        blobs=BlobService(db, store, max_bytes=settings.max_blob_bytes, clock=clock),
        submissions=SubmissionService(db, domain, clock=clock),
        health=health,
    )
