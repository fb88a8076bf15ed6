"""Deploying DataCoop's contracts once per chain, and finding them again after a restart.

Each deployment goes through the outbox under a key naming the chain and the
contract, so a crash halfway through resumes rather than deploying twice. The
addresses are kept in ``deployment.json`` and checked against the chain's code
at every start: a chain that lost its state is redeployed, never trusted blindly.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from web3 import Web3

from datacoop.chain.artifacts import compile_contract
from datacoop.chain.client import ChainClient
from datacoop.chain.keys import Signer
from datacoop.chain.outbox import Relay
from datacoop.errors import Unavailable

__all__ = ["CONTRACTS", "Deployment", "ensure_deployed", "load_deployment"]

CONTRACTS = ("TestToken", "TaskVault", "TaskEscrow", "DatasetRegistry", "LicenseMarket", "ValidatorStaking")
UNBONDING_DELAY_S = 7 * 24 * 3600
OPERATOR_FEE_BPS = 250


@dataclass(frozen=True)
class Deployment:
    """Where DataCoop's contracts live on one chain.

    ``vault_blueprint`` holds TaskVault's init code (EIP-5202), from which ``escrow`` creates
    one vault per task. A ``deployment.json`` written before vaults existed lacks it and is
    redeployed (its escrow is the older many-task contract).
    """

    chain_id: int
    operator: str
    token: str
    escrow: str
    registry: str
    market: str
    staking: str
    vault_blueprint: str = ""

    def addresses(self) -> dict[str, str]:
        return {"token": self.token, "escrow": self.escrow, "registry": self.registry,
                "market": self.market, "staking": self.staking,
                "vault_blueprint": self.vault_blueprint}  # fmt: skip


def load_deployment(path: Path) -> Deployment | None:
    if not path.exists():
        return None
    return Deployment(**json.loads(path.read_text()))


def _is_live(client: ChainClient, d: Deployment) -> bool:
    addresses = d.addresses().values()
    return d.chain_id == client.chain_id and all(a and client.code_at(a) for a in addresses)


def _deploy(
    client: ChainClient, relay: Relay, name: str, args: list[Any], tag: str, *, blueprint: bool = False
) -> str:
    """Deploy ``name`` through the outbox; ``blueprint``: its init code as an EIP-5202 blueprint."""
    artifact = compile_contract(name)
    if blueprint:
        data = "0x" + artifact.blueprint_bytecode.hex()
        name += ".blueprint"
    else:
        constructor = client.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode).constructor(*args)
        data = constructor.data_in_transaction
    row = relay.submit(f"deploy:{client.chain_id}:{tag}:{name}", to=None, data=data)
    row = relay.drive(row.key)
    if row.status != "confirmed" or not row.contract_address:
        raise Unavailable(f"deploying {name} ended {row.status}: {row.error}", field="chain")
    return Web3.to_checksum_address(row.contract_address)


def ensure_deployed(client: ChainClient, relay: Relay, operator: Signer, path: Path) -> Deployment:
    """The chain's DataCoop contracts, deployed first if ``path`` names none that are live."""
    known = load_deployment(path)
    if known is not None and _is_live(client, known):
        return known
    # Keys carry the chain's genesis hash: a resumed deployment finds its earlier transactions,
    # while a chain that was reset (another genesis) gets fresh ones.
    genesis = client.w3.eth.get_block(0)["hash"]
    tag = "g" + bytes(genesis).hex()[:16]
    if known is not None and known.chain_id == client.chain_id:
        tag += f"-b{client.block_number()}"  # the same genesis but code gone: never reuse those keys
    op = operator.address
    token = _deploy(client, relay, "TestToken", ["DataCoop Test Token", "DCT", 18], tag)
    vault_blueprint = _deploy(client, relay, "TaskVault", [], tag, blueprint=True)
    escrow = _deploy(client, relay, "TaskEscrow", [op, vault_blueprint], tag)
    registry = _deploy(client, relay, "DatasetRegistry", [], tag)
    market = _deploy(client, relay, "LicenseMarket", [registry, op, op, OPERATOR_FEE_BPS], tag)
    staking = _deploy(client, relay, "ValidatorStaking", [token, op, UNBONDING_DELAY_S, op], tag)
    deployment = Deployment(client.chain_id, op, token, escrow, registry, market, staking, vault_blueprint)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(deployment), indent=2) + "\n")
    tmp.replace(path)
    return deployment
