"""The composition root: builds every adapter from Settings and hands them to the services.

Nothing else in DataCoop constructs an adapter or reads Settings, so a test or
a deployment changes wiring here and nowhere else.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from eth_account.signers.local import LocalAccount

from datacoop.chain.setup import ChainHandle, connect_chain
from datacoop.client import write_dev_accounts
from datacoop.db import Database
from datacoop.domain.signing import Eip712Domain
from datacoop.domain.tasks import Modality
from datacoop.models.factory import build_embedders
from datacoop.pipeline.base import StageDeps
from datacoop.pipeline.registry import stages_for
from datacoop.pipeline.stages.fraud import ActivityScorer
from datacoop.pipeline.workers import WorkerPool
from datacoop.services.activity import DatabaseActivity
from datacoop.services.auth import AuthService
from datacoop.services.blobs import BlobService
from datacoop.services.clock import Clock, utc_now
from datacoop.services.duplicates import DatabaseDuplicates
from datacoop.services.health import HealthService
from datacoop.services.screening import ScreeningService
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
    screening: ScreeningService
    chain: ChainHandle | None = None
    dev_accounts: tuple[LocalAccount, ...] = ()
    workers: WorkerPool | None = None

    def start_workers(self, threads: int = 1) -> WorkerPool:
        """Run pre-screening in this process (the embedded default); stopped by close()."""
        if self.workers is None:
            self.workers = WorkerPool(self.screening.work_once, threads=threads).start()
        return self.workers

    def wake_workers(self, _submission_id: int) -> None:
        if self.workers is not None:
            self.workers.notify()

    def close(self) -> None:
        if self.workers is not None:
            self.workers.stop()
        if self.chain is not None:
            self.chain.close()
        self.db.dispose()


def _chain_probe(chain: ChainHandle | None) -> dict[str, Any]:
    if chain is None:
        return {"status": "not_configured"}  # chain = "off": said plainly, never pretended
    return chain.health()


def build_node(
    settings: Settings,
    *,
    db: Database | None = None,
    clock: Clock = utc_now,
    migrate: bool = True,
    with_chain: bool = True,
    check_stages: bool = True,
) -> Node:
    """Build a node: database, store, chain (unless ``with_chain`` is False or settings say off), services.

    Pass ``db`` to share one (tests use a PostgreSQL schema of their own).
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = db or Database(settings.resolved_database_url)
    if migrate:
        db.migrate()
    store = open_store(settings)
    dev = write_dev_accounts(settings.data_dir, settings.dev_accounts) if settings.dev_accounts else []
    chain = connect_chain(settings, db, dev_keys=dev, clock=clock) if with_chain else None
    try:
        if check_stages:  # fail at start, not inside a worker, if a stage cannot load
            stages_for(Modality.IMAGE, only=settings.stages)
        return _assemble(settings, db, store, chain, dev, clock)
    except BaseException:
        if chain is not None:
            chain.close()
        raise


def _assemble(
    settings: Settings,
    db: Database,
    store: BlobStore,
    chain: ChainHandle | None,
    dev: list[LocalAccount],
    clock: Clock,
) -> Node:
    contract = chain.deployment.escrow if chain else settings.verifying_contract
    chain_id = chain.client.chain_id if chain else settings.chain_id
    domain = Eip712Domain(chain_id=chain_id, verifying_contract=contract)
    auth = AuthService(
        db,
        domain=settings.resolved_siwe_domain,
        uri=settings.resolved_public_url,
        chain_id=settings.chain_id,
        nonce_ttl=timedelta(seconds=settings.nonce_ttl_seconds),
        session_ttl=timedelta(seconds=settings.session_ttl_seconds),
        clock=clock,
    )
    health = HealthService({"database": db.ping, "store": store.health, "chain": lambda: _chain_probe(chain)})
    screening = ScreeningService(
        db,
        store,
        deps=StageDeps(
            duplicates=DatabaseDuplicates(db),
            models={
                **build_embedders(settings),
                "fraud_scorer": ActivityScorer(DatabaseActivity(db, clock=clock)),
            },
        ),
        lease=timedelta(seconds=settings.screening_lease_seconds),
        stage_classes=functools.partial(stages_for, only=settings.stages),
        clock=clock,
    )
    node = Node(
        settings=settings,
        db=db,
        store=store,
        eip712=domain,
        auth=auth,
        tasks=TaskService(db, clock=clock),
        blobs=BlobService(db, store, max_bytes=settings.max_blob_bytes, clock=clock),
        submissions=SubmissionService(db, domain, clock=clock, screening_report=screening.report),
        health=health,
        screening=screening,
        chain=chain,
        dev_accounts=tuple(dev),
    )
    node.submissions.on_committed = node.wake_workers
    return node
