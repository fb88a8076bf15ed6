"""Builders the composition root (:mod:`datacoop.app`) calls for the parts that take more than one line.

Each takes what it needs (settings, adapters, the services built before it) and returns one part, so
``app._assemble`` builds the node in dependency order and constructs ``Node`` once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from datacoop.audit.log import AuditLog
from datacoop.chain.setup import ChainHandle
from datacoop.clock import Clock
from datacoop.compute.service import ComputeConfig, ComputeService
from datacoop.datasets.service import DatasetService
from datacoop.db import Database
from datacoop.errors import InvalidInput
from datacoop.identity.eip712 import Eip712Domain
from datacoop.review.rules import Qualification
from datacoop.review.service import ReviewService
from datacoop.review.slashing import SlashingDesk
from datacoop.review.stakes import CachedStakes, ChainStakes, InMemoryStakes, StakeReader
from datacoop.screening.service import ScreeningService
from datacoop.screening.sybil import SybilSignals
from datacoop.settings import Settings
from datacoop.settlement.service import VoteReward
from datacoop.storage import BlobStore
from datacoop.storage.keyfile import node_secret

if TYPE_CHECKING:
    from datacoop.chain.contracts import LicenseMarket
    from datacoop.screening.broker import PrescreenBroker

__all__ = ["build_broker", "build_compute", "build_review", "build_sybil_signals", "vote_rewards"]


def build_sybil_signals(
    settings: Settings, db: Database, chain: ChainHandle | None, clock: Clock
) -> SybilSignals:
    """The fraud stage's links between accounts; funders are read from the chain where the node has one."""
    from datacoop.chain.funders import FunderLookup

    funders = None
    exempt = list(settings.fraud_funder_exempt)
    if chain is not None:
        funders = FunderLookup(db, chain.client, max_blocks=settings.fraud_funder_scan_blocks, clock=clock)
        exempt.append(chain.operator.address)  # the operator funds dev accounts and pays gas: links nobody
    return SybilSignals(
        db,
        funders,
        device_shared_with=settings.fraud_device_shared_with,
        funder_shared_with=settings.fraud_funder_shared_with,
        exempt=exempt,
    )


def build_compute(
    settings: Settings,
    db: Database,
    store: BlobStore,
    audit: AuditLog,
    datasets: DatasetService,
    chain: ChainHandle | None,
    clock: Clock,
) -> ComputeService:
    from datacoop.chain.contracts import LicenseMarket
    from datacoop.compute.licences import ChainLicences
    from datacoop.compute.outputs import OutputLimits
    from datacoop.compute.sandbox import Limits
    from datacoop.compute.signing import OutputSigner

    limits = Limits(
        cpu_seconds=settings.compute_cpu_seconds,
        wall_seconds=settings.compute_wall_seconds,
        memory_bytes=settings.compute_memory_bytes,
        output_bytes=settings.compute_output_bytes,
        tmp_bytes=settings.compute_tmp_bytes,
        host_uid=settings.compute_host_uid,
    )
    config = ComputeConfig(
        allowed_requirements=list(settings.compute_allowed_requirements),
        limits=limits,
        outputs=OutputLimits(
            max_bytes=settings.compute_output_bytes, max_files=settings.compute_output_files
        ),
        work_dir=settings.compute_work_dir,
    )
    signer = OutputSigner(bytes.fromhex(node_secret(settings.data_dir / "compute_url_secret")))

    def market() -> LicenseMarket | None:  # a compute licence from an order holds while its token does
        return None if chain is None else LicenseMarket(chain.client, chain.deployment.market)

    return ComputeService(
        db, store, audit, signer, manifest=datasets.manifest, config=config, clock=clock,
        licences=ChainLicences(market),
    )  # fmt: skip


def build_broker(settings: Settings, screening: ScreeningService) -> PrescreenBroker | None:
    if settings.broker_url is None:
        return None  # the embedded default: workers poll the database
    try:
        from datacoop.screening.broker import BrokerConfig, PrescreenBroker
    except ImportError as exc:
        raise InvalidInput(
            f"broker_url needs the broker extra: pip install 'datacoop[broker]' ({exc})", field="broker_url"
        ) from exc
    config = BrokerConfig(
        url=settings.broker_url,
        queue=settings.broker_queue,
        lease=timedelta(seconds=settings.screening_lease_seconds),
        heartbeat=timedelta(seconds=settings.broker_heartbeat_seconds),
        maintenance=settings.broker_maintenance,
    )
    return PrescreenBroker(config, screening.work_on)


def vote_rewards(s: Session, task_id: int) -> list[VoteReward]:
    """Review's useful-vote ledger in the shape settlement pays from."""
    return [
        VoteReward(r.vote_id, r.task_id, r.validator, r.amount)
        for r in ReviewService.vote_rewards(s, task_id)
    ]


def build_review(
    settings: Settings,
    db: Database,
    domain: Eip712Domain,
    chain: ChainHandle | None,
    screening: ScreeningService,
    clock: Clock,
) -> ReviewService:
    # without a chain nobody has a stake: only review_min_stake = 0 opens review
    stakes: StakeReader = InMemoryStakes()
    forget: Callable[[str], None] | None = None
    if chain is not None:
        cached = CachedStakes(
            ChainStakes(chain.client, chain.deployment.staking, confirmations=chain.relay.confirmations),
            ttl=settings.review_stake_cache_seconds,
            cache_from=settings.review_min_stake,
        )
        stakes, forget = cached, cached.invalidate
    qualification = Qualification(
        gold_needed=settings.review_qualify_gold,
        min_accuracy=settings.review_qualify_accuracy,
        exclude_after=settings.review_exclude_after_gold,
        exclude_below=settings.review_exclude_accuracy,
    )
    return ReviewService(
        db,
        domain,
        stakes,
        min_stake=settings.review_min_stake,
        ttl=timedelta(seconds=settings.review_assignment_ttl_seconds),
        qualification=qualification,
        report=screening.report,
        clock=clock,
        slashing=SlashingDesk(db, chain, amount=settings.review_slash_amount, clock=clock, on_slashed=forget),
    )
