"""Connecting a node to its chain: the embedded anvil, or any JSON-RPC endpoint."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from sqlalchemy.orm import Session

from datacoop.chain import browser_rpc, outbox
from datacoop.chain.anvil import AnvilNode
from datacoop.chain.client import ChainClient
from datacoop.chain.deploy import Deployment, ensure_deployed, load_deployment
from datacoop.chain.keys import Signer, operator_signer
from datacoop.chain.networks import FeePolicy, network_for
from datacoop.chain.outbox import Relay
from datacoop.chain.verify import refuse_unsafe_deployment, verify_deployment
from datacoop.clock import Clock, utc_now
from datacoop.db import Database
from datacoop.db.models import ChainTx
from datacoop.errors import InvalidInput, Unavailable
from datacoop.settings import Settings

__all__ = ["ChainHandle", "connect_chain", "require_chain"]

DEV_FAUCET = 1_000_000 * 10**18  # test tokens minted to each dev account on a fresh embedded chain


@dataclass
class ChainHandle:
    """A node's chain: client, operator relay, contract addresses, and the anvil it owns (if any)."""

    client: ChainClient
    relay: Relay
    operator: Signer
    deployment: Deployment
    anvil: AnvilNode | None = None

    def health(self) -> dict[str, Any]:
        report = self.client.health(self.deployment.addresses())
        report["embedded"] = self.anvil is not None
        return report

    def forward_rpc(self, calls: list[Any]) -> list[dict[str, Any]]:
        """Browser wallets' JSON-RPC calls, allow-listed (:mod:`datacoop.chain.browser_rpc`); blocks."""
        return browser_rpc.forward(self.client.w3.provider, calls)

    def enqueue(self, s: Session, *, key: str, to: str, data: str, now: datetime) -> ChainTx:
        """Hand an operator transaction to the node's one chain follower, in the caller's transaction.

        The outbox row is written with ``s``; the follower that holds the outbox lease signs, sends and
        confirms it (:mod:`datacoop.chain.outbox`). The same ``key`` returns the existing row."""
        return outbox.enqueue(
            s, key=key, chain_id=self.client.chain_id, sender=self.operator.address, to=to, data=data, now=now
        )

    def wait_step(self) -> None:
        """One step of the outbox for a caller waiting on its own transaction (CLI, demo, tests), and a
        short pause when nothing moved: a no-op step while another process (`up`) drives the outbox."""
        if not self.relay.step():
            time.sleep(0.02)

    def close(self) -> None:
        self.relay.close()
        close_signer = getattr(self.operator, "close", None)  # an external signer's HTTP client
        if close_signer is not None:
            close_signer()
        if self.anvil is not None:
            self.anvil.stop()


def require_chain(chain: ChainHandle | None, what: str) -> ChainHandle:
    """The node's chain, or Unavailable (field ``chain``) saying ``what`` cannot happen without one.

    The one answer every capability gives when the node runs with ``chain = 'off'``, e.g.
    ``require_chain(chain, "nothing can settle")``.
    """
    if chain is None:
        raise Unavailable(f"this node runs without a chain (chain = 'off'): {what}", field="chain")
    return chain


def is_operator(chain: ChainHandle | None, address: str) -> bool:
    """Whether checksummed ``address`` is the node's operator (the account that sends its transactions);
    never, without a chain."""
    return chain is not None and address == chain.operator.address


def _operator(
    settings: Settings, dev_keys: list[LocalAccount], prompt: Callable[[str], str] | None
) -> Signer:
    signer = operator_signer(settings, prompt=prompt)
    if signer is not None:
        return signer
    if settings.chain == "embedded" and dev_keys:
        return dev_keys[0]
    raise InvalidInput(
        "operator_keystore (with operator_password_file) or operator_signer_url must be set to send the "
        "operator's transactions",
        field="operator_keystore",
    )


def _attach(client: ChainClient, settings: Settings, operator: Signer) -> Deployment:
    """Production: the deployment `datacoop deploy` wrote, verified, never a fresh one."""
    if client.chain_id != settings.chain_id:  # sign-in messages and DIDs name settings.chain_id
        raise InvalidInput(
            f"chain_id is {settings.chain_id} but {settings.rpc_url} serves chain {client.chain_id}",
            field="chain_id",
        )
    path = settings.resolved_deployment_file
    deployment = load_deployment(path)
    if deployment is None:
        raise InvalidInput(
            f"no deployment file {path}: run `datacoop deploy` first, or set deployment_file",
            field="deployment_file",
        )
    verify_deployment(client, deployment, source=str(path))
    refuse_unsafe_deployment(client, deployment, operator.address, source=str(path))
    return deployment


def _fund_dev_accounts(handle: ChainHandle, dev_keys: list[LocalAccount]) -> None:
    token = handle.client.contract("TestToken", handle.deployment.token)
    for acct in dev_keys:
        data = token.encode_abi("mint", args=[acct.address, DEV_FAUCET])
        key = f"faucet:{handle.client.chain_id}:{handle.deployment.token}:{acct.address}"
        handle.relay.drive(handle.relay.submit(key, to=handle.deployment.token, data=data).key)


def connect_chain(
    settings: Settings,
    db: Database,
    *,
    dev_keys: list[LocalAccount],
    clock: Clock = utc_now,
    prompt: Callable[[str], str] | None = None,
) -> ChainHandle | None:
    """Start or reach the configured chain and make sure DataCoop's contracts are on it.

    In development the contracts are deployed on first start; in production the node only
    attaches to the verified deployment of ``deployment_file`` and refuses an unsafe one
    (:func:`~datacoop.chain.verify.refuse_unsafe_deployment`). ``prompt`` asks for the keystore
    password when no ``operator_password_file`` is set.
    """
    if settings.chain == "off":
        return None
    chain_dir = settings.data_dir / "chain"
    anvil: AnvilNode | None = None
    if settings.chain == "embedded":
        anvil = AnvilNode(
            chain_dir, chain_id=settings.chain_id, port=settings.anvil_port, binary=_path(settings)
        )
        anvil.start()
        rpc_url = anvil.url
    else:
        if not settings.rpc_url:
            raise InvalidInput("rpc_url must be set when chain is 'rpc'", field="rpc_url")
        rpc_url = settings.rpc_url
    try:
        client = ChainClient(rpc_url)
        operator = _operator(settings, dev_keys, prompt)
        network = network_for(settings.network) if settings.network else None
        confirmations = max(settings.confirmations, network.confirmations if network else 1)
        fees = network.fees if network else FeePolicy()
        relay = Relay(db, client, operator, confirmations=confirmations, fees=fees, clock=clock)
        if settings.environment == "production":
            deployment = _attach(client, settings, operator)
        else:
            deployment = ensure_deployed(client, relay, operator, settings.resolved_deployment_file)
        handle = ChainHandle(client, relay, operator, deployment, anvil)
        if anvil is not None:
            _fund_dev_accounts(handle, dev_keys)
        return handle
    except BaseException:
        if anvil is not None:
            anvil.stop()
        raise


def _path(settings: Settings) -> Path | None:
    return Path(settings.anvil_path) if settings.anvil_path else None
