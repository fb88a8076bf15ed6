"""Deploying DataCoop's contracts once per chain, and finding them again after a restart.

Each deployment goes through the outbox under a key naming the chain and the
contract, so a crash halfway through resumes rather than deploying twice. The
addresses are kept in ``deployment.json`` and checked against the chain's code
at every start: a chain that lost its state is redeployed, never trusted blindly.

Roles. The operator's key deploys and keeps only ``OPERATOR_ROLE`` (roots, royalty
roots, incidents) once an ``admin`` other than itself is named: ``DEFAULT_ADMIN_ROLE`` of
TaskEscrow, LicenseMarket and ValidatorStaking (fees, operator rotation, roles) and
ValidatorStaking's ``ARBITER_ROLE`` (appeals) go to the admin, or to a TimelockController
when ``timelock_delay_s`` is set. Without an admin (a dev chain) the operator stays admin,
as before. DatasetRegistry's owner stays the operator: it creates datasets for publishers
without gas and anchors the audit log, both the node's daily work.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from web3 import Web3

from datacoop.chain.artifacts import compile_contract
from datacoop.chain.client import ChainClient
from datacoop.chain.keys import Signer
from datacoop.chain.outbox import Relay
from datacoop.errors import InvalidInput, Unavailable

__all__ = ["CONTRACTS", "DEV_TREASURY", "Deployment", "ensure_deployed", "load_deployment"]

CONTRACTS = (
    "TestToken", "TaskVault", "TaskEscrow", "DatasetRegistry", "LicenseMarket", "ValidatorStaking",
    "TimelockController",
)  # fmt: skip
UNBONDING_DELAY_S = 7 * 24 * 3600
APPEAL_PERIOD_S = 3 * 24 * 3600  # a validator's time to appeal a recorded incident
MAX_SLASH_BPS = 1_000  # one incident takes at most 10 % of a validator's stake
OPERATOR_FEE_BPS = 250
# Slashed stake must never reach the operator (ValidatorStaking refuses it as treasury). A dev chain
# that names no treasury, admin or timelock burns it here; on a public chain name a multisig.
DEV_TREASURY = "0x000000000000000000000000000000000000dEaD"
_ADMIN_ROLE = b"\x00" * 32  # snekmate's DEFAULT_ADMIN_ROLE
_HANDED_OVER = ("TaskEscrow", "LicenseMarket")  # deployer-is-admin contracts; ValidatorStaking takes `admin`


@dataclass(frozen=True)
class Deployment:
    """Where DataCoop's contracts live on one chain.

    ``vault_blueprint`` holds TaskVault's init code (EIP-5202), from which ``escrow`` creates
    one vault per task. ``admin`` holds DEFAULT_ADMIN_ROLE (the timelock when there is one),
    ``treasury`` receives slashed stake. A ``deployment.json`` written before vaults (no
    ``vault_blueprint``) or before slashing incidents (no ``treasury``) still loads, and a node
    redeploys it (its contracts are older versions).
    """

    chain_id: int
    operator: str
    token: str
    escrow: str
    registry: str
    market: str
    staking: str
    vault_blueprint: str = ""
    admin: str = ""
    treasury: str = ""
    timelock: str = ""  # "" when the admin is an account (a multisig, or the operator on a dev chain)

    def addresses(self) -> dict[str, str]:
        """The contracts' addresses (the timelock's only when there is one)."""
        found = {"token": self.token, "escrow": self.escrow, "registry": self.registry,
                 "market": self.market, "staking": self.staking,
                 "vault_blueprint": self.vault_blueprint}  # fmt: skip
        return found | ({"timelock": self.timelock} if self.timelock else {})


def load_deployment(path: Path) -> Deployment | None:
    if not path.exists():
        return None
    known = {f.name for f in fields(Deployment)}
    return Deployment(**{k: v for k, v in json.loads(path.read_text()).items() if k in known})


def _is_live(client: ChainClient, d: Deployment) -> bool:
    addresses = d.addresses().values()
    current = bool(d.treasury)  # written before slashing incidents: an older ValidatorStaking
    return current and d.chain_id == client.chain_id and all(a and client.code_at(a) for a in addresses)


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


def _call(
    client: ChainClient, relay: Relay, key: str, name: str, address: str, fn: str, args: list[Any]
) -> None:
    """One operator call through the outbox, driven to its receipt."""
    data = client.contract(name, address).encode_abi(fn, args=args)
    row = relay.drive(relay.submit(key, to=address, data=data).key)
    if row.status != "confirmed":
        raise Unavailable(f"{name}.{fn} ended {row.status}: {row.error}", field="chain")


def _hand_over(
    client: ChainClient, relay: Relay, tag: str, contracts: dict[str, str], op: str, admin: str
) -> None:
    """Give DEFAULT_ADMIN_ROLE of each deployer-is-admin contract to ``admin``; the operator renounces it."""
    for name in _HANDED_OVER:
        key = f"handover:{client.chain_id}:{tag}:{name}"
        _call(client, relay, key + ":grant", name, contracts[name], "grantRole", [_ADMIN_ROLE, admin])
        _call(client, relay, key + ":renounce", name, contracts[name], "renounceRole", [_ADMIN_ROLE, op])


def _address(value: str, field: str) -> str:
    if not Web3.is_address(value):
        raise InvalidInput(f"{field} {value!r} is not an address", field=field)
    return Web3.to_checksum_address(value)


@dataclass(frozen=True)
class _Roles:
    """Who holds what, before the timelock (if any) exists."""

    operator: str
    admin: str
    treasury: str | None
    proposers: list[str]
    executors: list[str]

    @classmethod
    def of(
        cls,
        op: str,
        admin: str | None,
        treasury: str | None,
        proposers: Sequence[str],
        executors: Sequence[str],
    ) -> _Roles:
        chosen = _address(admin, "admin") if admin else op
        props = [_address(a, "proposers") for a in proposers] or ([chosen] if chosen != op else [])
        if treasury and _address(treasury, "treasury") == op:
            raise InvalidInput(f"treasury {treasury} is the operator: name a multisig", field="treasury")
        treasury = _address(treasury, "treasury") if treasury else None
        return cls(op, chosen, treasury, props, [_address(a, "executors") for a in executors] or props)

    def settle(self, timelock: str) -> tuple[str, str]:
        """(admin, treasury) once the timelock's address is known ("" for none)."""
        admin = timelock or self.admin
        return admin, self.treasury or timelock or (admin if admin != self.operator else DEV_TREASURY)


def _deploy_all(
    client: ChainClient, relay: Relay, roles: _Roles, tag: str, delay: int | None, token: str | None = None
) -> Deployment:
    op, timelock = roles.operator, ""
    if delay is not None:
        args = [delay, roles.proposers, roles.executors, "0x" + "00" * 20]
        timelock = _deploy(client, relay, "TimelockController", args, tag)
    admin, treasury = roles.settle(timelock)
    token = token or _deploy(client, relay, "TestToken", ["DataCoop Test Token", "DCT", 18], tag)
    staking_args = [token, treasury, UNBONDING_DELAY_S, op, admin, APPEAL_PERIOD_S, MAX_SLASH_BPS]
    staking = _deploy(client, relay, "ValidatorStaking", staking_args, tag)
    vault_blueprint = _deploy(client, relay, "TaskVault", [], tag, blueprint=True)
    escrow = _deploy(client, relay, "TaskEscrow", [op, vault_blueprint, staking], tag)  # staking: disputes
    registry = _deploy(client, relay, "DatasetRegistry", [], tag)
    fee_recipient = op if treasury == DEV_TREASURY else treasury
    market = _deploy(client, relay, "LicenseMarket", [registry, op, fee_recipient, OPERATOR_FEE_BPS], tag)
    if admin != op:
        _hand_over(client, relay, tag, {"TaskEscrow": escrow, "LicenseMarket": market}, op, admin)
    return Deployment(
        client.chain_id, op, token, escrow, registry, market, staking, vault_blueprint,
        admin=admin, treasury=treasury, timelock=timelock,
    )  # fmt: skip


def ensure_deployed(
    client: ChainClient,
    relay: Relay,
    operator: Signer,
    path: Path,
    *,
    admin: str | None = None,
    treasury: str | None = None,
    timelock_delay_s: int | None = None,
    proposers: Sequence[str] = (),
    executors: Sequence[str] = (),
    token: str | None = None,
) -> Deployment:
    """The chain's DataCoop contracts, deployed first if ``path`` names none that are live.

    Args:
        admin: the admin (a multisig); default the operator (dev chains). With a timelock, the
            default proposer and executor.
        treasury: where slashed stake and operator fees go; default the timelock, else ``admin``
            when it is not the operator, else :data:`DEV_TREASURY` (slashed stake burnt, fees to
            the operator).
        timelock_delay_s: when set, a TimelockController with this minimum delay becomes the
            admin of every contract; ``proposers``/``executors`` (default ``[admin]``) run it.
        token: an existing ERC-20 as the deployment's token (staking, a task's default); default:
            a fresh TestToken (development only: anyone may mint it).

    Raises:
        InvalidInput: an address is malformed, the treasury is the operator, or a timelock has
            no proposer other than the operator.
    """
    known = load_deployment(path)
    if known is not None and _is_live(client, known):
        return known
    roles = _Roles.of(operator.address, admin, treasury, proposers, executors)
    if timelock_delay_s is not None and not roles.proposers:
        raise InvalidInput("a timelock needs a proposer other than the operator: pass admin", field="admin")
    # Keys carry the chain's genesis hash: a resumed deployment finds its earlier transactions,
    # while a chain that was reset (another genesis) gets fresh ones.
    genesis = client.w3.eth.get_block(0)["hash"]
    tag = "g" + bytes(genesis).hex()[:16]
    if known is not None and known.chain_id == client.chain_id:
        tag += f"-b{client.block_number()}"  # the same genesis but code gone: never reuse those keys
    chosen_token = _address(token, "token") if token else None
    deployment = _deploy_all(client, relay, roles, tag, timelock_delay_s, chosen_token)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(deployment), indent=2) + "\n")
    tmp.replace(path)
    return deployment
