"""The composition root: builds every adapter from Settings and hands them to the services.

Nothing else in DataCoop constructs an adapter or reads Settings, so a test or
a deployment changes wiring here and nowhere else.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from eth_account.signers.local import LocalAccount

from datacoop.app_parts import build_broker, build_compute, build_review, build_sybil_signals, vote_rewards
from datacoop.audit.log import AuditLog
from datacoop.chain.setup import ChainHandle, connect_chain
from datacoop.chain.tokens import TokenReader
from datacoop.chain.watch_rpc import watch_deployment
from datacoop.chain.watcher import ChainWatcher
from datacoop.clock import Clock, utc_now
from datacoop.compliance import PolicyEngine, load_policy
from datacoop.compute.service import ComputeService
from datacoop.datasets.service import DatasetService
from datacoop.db import Database
from datacoop.errors import Conflict, InvalidInput
from datacoop.exchange.service import ExchangeService
from datacoop.health import HealthService
from datacoop.identity.eip712 import Eip712Domain
from datacoop.identity.keys import write_dev_accounts
from datacoop.identity.sessions import AuthService
from datacoop.models.factory import build_embedders
from datacoop.review.service import ReviewService
from datacoop.screening.activity import DatabaseActivity
from datacoop.screening.base import StageDeps
from datacoop.screening.registry import stages_for
from datacoop.screening.seen import DatabaseDuplicates
from datacoop.screening.service import ScreeningService, enqueue
from datacoop.screening.stages.fraud import ActivityScorer
from datacoop.screening.workers import WorkerPool
from datacoop.settings import Settings
from datacoop.settlement.service import SettlementService
from datacoop.storage import BlobStore, open_store
from datacoop.storage.keyfile import node_secret
from datacoop.tasks.blobs import BlobService
from datacoop.tasks.dashboard import TaskDashboardService
from datacoop.tasks.rules import Modality
from datacoop.tasks.service import TaskService
from datacoop.tasks.submissions import SubmissionService
from datacoop.webhooks.sender import DeliveryPolicy
from datacoop.webhooks.service import WebhookService

if TYPE_CHECKING:
    from datacoop.screening.broker import BrokerWorkers, PrescreenBroker

__all__ = ["Node", "Wakeup", "build_node", "migrate_database"]

log = logging.getLogger("datacoop.follower")


class Wakeup:
    """Called with a submission's id once it is committed: the broker (if any) is offered its job, and
    the in-process workers look now rather than at their next tick.

    Built before the services, so ``SubmissionService`` receives it when it is constructed; the worker
    pool that ``Node.start_workers`` starts later registers itself with :meth:`notifies`.
    """

    def __init__(self, broker: PrescreenBroker | None) -> None:
        self._broker = broker
        self._pools: list[WorkerPool] = []

    def notifies(self, pool: WorkerPool) -> WorkerPool:
        """Wake ``pool`` on every commit from now on; returns it."""
        self._pools.append(pool)
        return pool

    def __call__(self, submission_id: int) -> None:
        for pool in self._pools:
            pool.notify()
        if self._broker is not None:
            self._broker.offer(submission_id)


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
    datasets: DatasetService
    review: ReviewService
    settlement: SettlementService
    compliance: PolicyEngine
    audit: AuditLog
    exchange: ExchangeService  # built from datasets, compliance and audit
    compute: ComputeService  # compute-to-data jobs (compute/service.py)
    dashboard: TaskDashboardService  # a requester's view of a task
    wakeup: Wakeup  # what SubmissionService calls once a submission is committed
    webhooks: WebhookService  # subscriptions, their delivery log, and the delivery worker
    compute_workers: WorkerPool | None = None
    chain: ChainHandle | None = None
    watcher: ChainWatcher | None = None  # the deployment's events, stepped by the chain follower
    dev_accounts: tuple[LocalAccount, ...] = ()
    workers: WorkerPool | None = None
    chain_follower: WorkerPool | None = None  # the one thread that drives the outbox (start_chain_follower)
    audit_anchored_at: float = 0.0  # time.monotonic() of the last automatic audit anchor
    broker: PrescreenBroker | None = None  # set when settings.broker_url is: jobs travel through it
    broker_workers: BrokerWorkers | None = None
    webhook_workers: WorkerPool | None = None

    def start_chain_follower(self) -> WorkerPool | None:
        """Start the node's one chain follower: the only thread that signs and sends (the outbox), and
        follows what was sent: epochs (closed on schedule), dataset versions, listings, royalty rounds
        and audit anchors. Request handlers only enqueue and read; across processes, the outbox's
        lease lets one follower at a time write."""
        if self.chain is not None and self.chain_follower is None:
            self.chain_follower = WorkerPool(self._chain_tick, threads=1, idle_s=1.0).start()
        return self.chain_follower

    def wake_chain(self) -> None:
        """Something was enqueued: let the follower look now rather than at its next tick."""
        if self.chain_follower is not None:
            self.chain_follower.notify()

    def _chain_tick(self, _worker: str) -> bool:
        assert self.chain is not None
        # Each part in turn, each on its own: one that fails (an RPC error, a log it cannot decode) is
        # logged and the others still run, so a stuck watcher never holds up postings or sales.
        changed = _step("outbox", self.chain.relay.step)
        if self.watcher is not None:
            changed |= _step("watcher", self.watcher.step)  # before the services that read it
        changed |= _step("settlement", self.settlement.tick)
        _step("datasets", self.datasets.sync)
        _step("exchange", self.exchange.sync)  # listings, publisher shares and royalty rounds
        changed |= _step(
            "slashing", self.review.slashing.sync
        )  # incidents executed after their appeal period
        every = self.settings.audit_anchor_seconds
        if every and time.monotonic() - self.audit_anchored_at >= every:
            self.audit_anchored_at = time.monotonic()
            _step("audit anchor", self._anchor_audit)
        return _step("audit", self.audit.sync) or changed

    def _anchor_audit(self) -> None:
        with contextlib.suppress(Conflict):  # an empty log has no head to anchor yet
            self.audit.anchor(min_new_entries=1)

    def start_workers(self, threads: int = 1) -> WorkerPool:
        """Run pre-screening in this process (the embedded default); stopped by close()."""
        if self.workers is None:
            self.workers = self.wakeup.notifies(WorkerPool(self.screening.work_once, threads=threads).start())
        return self.workers

    def start_broker_workers(self, threads: int = 1) -> BrokerWorkers:
        """Consume pre-screening jobs from the broker in this process, and sweep; stopped by close()."""
        if self.broker is None:
            raise InvalidInput("no broker is configured (set DATACOOP_BROKER_URL)", field="broker_url")
        if self.broker_workers is None:
            from datacoop.screening.broker import BrokerWorkers

            sweep = timedelta(seconds=self.settings.broker_sweep_seconds)
            self.broker_workers = BrokerWorkers(
                self.broker, functools.partial(self.screening.overdue, after=sweep), threads=threads,
                sweep_every=sweep,
            ).start()  # fmt: skip
        return self.broker_workers

    def start_compute_workers(self, threads: int = 1) -> WorkerPool:
        """Run compute-to-data jobs in this process; stopped by close()."""
        if self.compute_workers is None:
            self.compute_workers = WorkerPool(self.compute.work_once, threads=threads, idle_s=1.0).start()
        return self.compute_workers

    def start_webhook_workers(self) -> WorkerPool | None:
        """Deliver webhooks in this process (``webhook_workers`` threads; none at 0); stopped by close().

        Any number of processes may run them: each delivery is claimed by one worker at a time."""
        threads = self.settings.webhook_workers
        if self.webhook_workers is None and threads:
            self.webhook_workers = WorkerPool(self.webhooks.work_once, threads=threads, idle_s=1.0).start()
        return self.webhook_workers

    def close_compute_workers(self) -> None:
        if self.compute_workers is not None:
            self.compute_workers.stop()
            self.compute_workers = None

    def close(self) -> None:
        if self.chain_follower is not None:
            self.chain_follower.stop()
        if self.workers is not None:
            self.workers.stop()
        self.close_compute_workers()
        if self.webhook_workers is not None:
            self.webhook_workers.stop()
        self.webhooks.close()
        if self.broker_workers is not None:
            self.broker_workers.stop()
        if self.broker is not None:
            self.broker.close()
        if self.chain is not None:
            self.chain.close()
        self.db.dispose()


def _token_reader(settings: Settings, chain: ChainHandle | None) -> TokenReader | None:
    """Reads the ERC-20 each task names; a development node defaults to its deployment's token, a
    production one makes each task name its own."""
    if chain is None:
        return None
    production = settings.environment == "production"
    default = None if production else chain.deployment.token
    return TokenReader(chain.client, default, refuse_test_token=production)


def _watcher(db: Database, chain: ChainHandle | None, clock: Clock) -> ChainWatcher | None:
    """The deployment's chain watcher; it writes under the outbox lease, so it runs where the outbox runs."""
    if chain is None:
        return None
    relay = chain.relay
    return watch_deployment(
        db, chain.client, chain.deployment, relay.lease, confirmations=relay.confirmations, clock=clock
    )


def _webhooks(settings: Settings, db: Database, clock: Clock) -> WebhookService:
    policy = DeliveryPolicy(
        timeout=timedelta(seconds=settings.webhook_timeout_seconds),
        base=timedelta(seconds=settings.webhook_retry_base_seconds),
        cap=timedelta(seconds=settings.webhook_retry_cap_seconds),
        max_age=timedelta(seconds=settings.webhook_max_age_seconds),
    )
    loopback = settings.environment == "development"  # plain http to this machine: development only
    return WebhookService(db, allow_loopback_http=loopback, policy=policy, clock=clock)


def _chain_probe(chain: ChainHandle | None, watcher: ChainWatcher | None) -> dict[str, Any]:
    if chain is None:
        return {"status": "not_configured"}  # chain = "off": said plainly, never pretended
    report = chain.health()
    if watcher is not None:
        report["watcher"] = watcher.state().as_dict()  # head, processed, lag, reorgs
    return report


def _step(part: str, run: Callable[[], object]) -> bool:
    """One part of the chain follower's tick: whether it changed something; False, logged, if it failed."""
    try:
        return bool(run())
    except Exception:
        log.exception("the chain follower's %s step failed; the other parts go on", part)
        return False


def migrate_database(settings: Settings) -> None:
    """Bring the settings' database to the newest schema, once, before several processes build nodes on it."""
    db = Database(settings.resolved_database_url)
    try:
        db.migrate()
    finally:
        db.dispose()


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
    """Every part in dependency order, each given what it uses when it is built; then the one Node."""
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
    watcher = _watcher(db, chain, clock)
    probes = {"database": db.ping, "store": store.health, "chain": lambda: _chain_probe(chain, watcher)}
    health = HealthService(probes)
    screening = ScreeningService(
        db,
        store,
        deps=StageDeps(
            duplicates=DatabaseDuplicates(db),
            models={
                **build_embedders(settings),
                "fraud_scorer": ActivityScorer(DatabaseActivity(db, clock=clock)),
                "sybil_signals": build_sybil_signals(settings, db, chain, clock),
            },
        ),
        lease=timedelta(seconds=settings.screening_lease_seconds),
        stage_classes=functools.partial(stages_for, only=settings.stages),
        clock=clock,
    )
    blobs = BlobService(db, store, max_bytes=settings.max_blob_bytes, clock=clock)
    compliance = PolicyEngine(load_policy(settings.compliance_policy))
    audit = AuditLog(db, clock=clock, chain=chain)
    datasets = DatasetService(
        db, store, blobs, domain, chain=chain, anchoring=settings.chain != "off", clock=clock
    )
    settlement = SettlementService(
        db,
        chain,
        clock=clock,
        epoch_interval=timedelta(seconds=settings.epoch_interval_seconds) or None,
        vote_rewards=vote_rewards,
    )
    exchange = ExchangeService(
        db, datasets, compliance, audit, chain,
        secret=settings.download_secret or node_secret(settings.data_dir / "download_secret"),
        url_ttl=timedelta(seconds=settings.download_url_ttl_seconds), clock=clock, watcher=watcher,
    )  # fmt: skip
    compute = build_compute(settings, db, store, audit, datasets, chain, clock)
    review = build_review(settings, db, domain, chain, screening, clock)
    broker = build_broker(settings, screening)  # last: it holds a connection pool, closed by Node.close()
    wakeup = Wakeup(broker)
    return Node(
        settings=settings,
        db=db,
        store=store,
        eip712=domain,
        auth=auth,
        tasks=TaskService(db, tokens=_token_reader(settings, chain), clock=clock),
        blobs=blobs,
        submissions=SubmissionService(
            db,
            domain,
            enqueue=enqueue,
            clock=clock,
            on_committed=wakeup,
            screening_report=screening.report,
            max_per_contributor=settings.max_submissions_per_contributor,
        ),
        health=health,
        screening=screening,
        datasets=datasets,
        review=review,
        settlement=settlement,
        compliance=compliance,
        audit=audit,
        exchange=exchange,
        compute=compute,
        dashboard=TaskDashboardService(db, is_operator=settlement.is_operator),
        wakeup=wakeup,
        webhooks=_webhooks(settings, db, clock),
        chain=chain,
        watcher=watcher,
        dev_accounts=tuple(dev),
        broker=broker,
    )
