"""The ``datacoop deploy`` use case: deploy DataCoop's contracts to a network, or attach to them.

A deployment file that already exists is never trusted: every address in it must hold the
compiled contract's code (:func:`datacoop.chain.verify.verify_deployment`), else the command stops
before signing anything. A missing one is deployed through the outbox (keys name the chain's
genesis and the contract), so a second run, or a run after a crash halfway, sends nothing twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from web3 import Web3

from datacoop.chain.client import ChainClient
from datacoop.chain.deploy import Deployment, ensure_deployed, load_deployment
from datacoop.chain.keys import Signer, operator_signer
from datacoop.chain.networks import Network, network_for
from datacoop.chain.outbox import Relay
from datacoop.chain.verify import verify_deployment
from datacoop.db import Database
from datacoop.errors import Conflict, InvalidInput
from datacoop.settings import Settings

__all__ = ["DeployPlan", "DeployReport", "deploy", "network_for", "summary"]


@dataclass(frozen=True)
class DeployPlan:
    """What the user asked for (the RPC URL is theirs; the rest defaults from the network profile)."""

    rpc_url: str
    network: Network
    out: Path
    admin: str | None = None
    treasury: str | None = None
    timelock_delay_s: int | None = None
    token: str | None = None  # an existing ERC-20; None deploys a TestToken (refused in production)


@dataclass(frozen=True)
class DeployReport:
    deployment: Deployment
    path: Path
    attached: bool  # True: an existing, verified deployment; nothing was sent
    transactions: int  # transactions the operator's key sent during this run


def _signer(settings: Settings, prompt: Callable[[str], str] | None) -> Signer:
    signer = operator_signer(settings, prompt=prompt)
    if signer is None:
        raise InvalidInput(
            "no deployer key: pass --keystore FILE (or set operator_keystore / operator_signer_url)",
            field="operator_keystore",
        )
    return signer


def _check_options(settings: Settings, plan: DeployPlan, operator: str) -> None:
    for field in ("admin", "treasury", "token"):
        value = getattr(plan, field)
        if value is not None and not Web3.is_address(value):
            raise InvalidInput(f"--{field} {value!r} is not an address", field=field)
    admin = Web3.to_checksum_address(plan.admin) if plan.admin else operator
    if settings.environment == "production" and admin == operator:
        raise InvalidInput(
            "admin must differ from the operator in production: pass --admin ADDR (a multisig, or the "
            "timelock's proposer)",
            field="admin",
        )
    if settings.environment == "production" and plan.token is None:
        raise InvalidInput(
            "token must be set in production (--token ADDR, a real ERC-20): the default TestToken "
            "lets anyone mint",
            field="token",
        )
    if plan.timelock_delay_s is not None and not 0 <= plan.timelock_delay_s <= 30 * 86_400:
        raise InvalidInput("timelock_delay must be 0 to 30 days", field="timelock_delay", limit=30 * 86_400)


def _ensure(client: ChainClient, relay: Relay, signer: Signer, plan: DeployPlan, path: Path) -> Deployment:
    return ensure_deployed(
        client, relay, signer, path, admin=plan.admin, treasury=plan.treasury,
        timelock_delay_s=plan.timelock_delay_s, token=plan.token,
    )  # fmt: skip


def _check_matches(deployment: Deployment, plan: DeployPlan, *, source: str) -> None:
    """The outbox's keys name the chain and the contract, not the options: a database that already
    deployed on this chain with other options would hand those contracts back. Say so."""
    differs = []
    if plan.token and deployment.token != Web3.to_checksum_address(plan.token):
        differs.append(f"token {deployment.token}")
    wanted_admin = Web3.to_checksum_address(plan.admin) if plan.admin else None
    if wanted_admin and not deployment.timelock and deployment.admin != wanted_admin:
        differs.append(f"admin {deployment.admin or deployment.operator}")
    if plan.timelock_delay_s is not None and not deployment.timelock:
        differs.append("no timelock")
    if differs:
        raise Conflict(
            f"{source} holds a DataCoop deployment on this chain with other options ({', '.join(differs)}): "
            "attach to it without those options, or deploy with a fresh database (DATACOOP_DATABASE_URL)",
            field="deployment_file",
        )


def deploy(
    settings: Settings, plan: DeployPlan, *, prompt: Callable[[str], str] | None = None
) -> DeployReport:
    """Attach to the verified deployment in ``plan.out``, or deploy one and write it there.

    Raises:
        InvalidInput: the endpoint's chain id is not the network's, or an option is out of range.
        IntegrityError: ``plan.out`` names an address whose code is not DataCoop's.
    """
    client = ChainClient(plan.rpc_url)
    if client.chain_id != plan.network.chain_id:
        raise InvalidInput(
            f"{plan.rpc_url} serves chain {client.chain_id}, not {plan.network.name}'s "
            f"{plan.network.chain_id}",
            field="chain_id",
        )
    signer = _signer(settings, prompt)
    _check_options(settings, plan, signer.address)
    known = load_deployment(plan.out)
    if known is not None:
        verify_deployment(client, known, source=str(plan.out))  # loud, before anything is signed
        _check_matches(known, plan, source=str(plan.out))
        return DeployReport(known, plan.out, attached=True, transactions=0)
    nonce_before = client.w3.eth.get_transaction_count(Web3.to_checksum_address(signer.address))
    staging = plan.out.with_name(plan.out.name + ".pending")
    db = Database(settings.resolved_database_url)
    try:
        db.migrate()
        relay = Relay(db, client, signer, confirmations=plan.network.confirmations, fees=plan.network.fees)
        try:
            deployment = _ensure(client, relay, signer, plan, staging)
        finally:
            relay.close()
    finally:
        db.dispose()
    verify_deployment(client, deployment, source=str(staging))
    _check_matches(deployment, plan, source=f"the outbox of {settings.resolved_database_url}")
    staging.replace(plan.out)  # only a deployment as asked becomes the file `up` reads
    nonce_after = client.w3.eth.get_transaction_count(Web3.to_checksum_address(signer.address))
    return DeployReport(deployment, plan.out, attached=False, transactions=nonce_after - nonce_before)


def summary(report: DeployReport) -> str:
    """The deployment as JSON (what the file holds), for ``--json``."""
    return json.dumps(
        {"attached": report.attached, "transactions": report.transactions, "file": str(report.path),
         **asdict(report.deployment)},
        indent=2,
    )  # fmt: skip
