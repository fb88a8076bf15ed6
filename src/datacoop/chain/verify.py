"""Is the code at a deployment's addresses DataCoop's, and is it safe to run in production?

How bytecode is compared. Vyper 0.4 deploys ``runtime code ‖ immutables``: the constructor
appends the immutables' values (addresses, the EIP-712 domain cache …) after the runtime code the
compiler emits. The compiler also appends CBOR metadata to the *init* code naming the runtime
size and the immutables' size (``[integrity, runtime_size, data_sizes, immutables_size,
{"vyper": version}]``). So a contract verifies when its first ``runtime_size`` bytes equal the
artifact's runtime code exactly (every instruction that can run) and exactly
``immutables_size`` bytes follow. Immutables are values, not code: the ones that wire contracts
together are checked through their getters (:data:`_WIRING`). A blueprint (EIP-5202) is stored
as ``0xFE7100 ‖ init code`` and compared whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cbor2
from web3 import Web3

from datacoop.chain.artifacts import Artifact, compile_contract
from datacoop.chain.client import ChainClient
from datacoop.errors import IntegrityError, InvalidInput

__all__ = [
    "VERIFIED",
    "CodeLayout",
    "code_layout",
    "code_matches",
    "is_test_token",
    "refuse_unsafe_deployment",
    "verify_deployment",
]

# Deployment field -> the contract compiled for it (the token is any ERC-20: not ours to verify).
VERIFIED = {
    "escrow": "TaskEscrow",
    "registry": "DatasetRegistry",
    "market": "LicenseMarket",
    "staking": "ValidatorStaking",
    "timelock": "TimelockController",
    "vault_implementation": "TaskVault",  # the minimal proxies' code, where vaults are clones
}
# (field, getter, field its value must equal): immutables that wire the contracts together; a pair
# whose field or getter this version lacks is skipped.
_WIRING = (
    ("escrow", "VAULT_BLUEPRINT", "vault_blueprint"),
    ("escrow", "VAULT_IMPLEMENTATION", "vault_implementation"),
    ("escrow", "STAKING", "staking"),
    ("market", "registry", "registry"),
    ("staking", "token", "token"),
    ("staking", "treasury", "treasury"),
)
# (field, role): roles that administer, so the operator's hot key must hold none of them. A
# timelock proposer can change parameters after the delay: an admin too. Roles this version's
# contract lacks are skipped.
_ADMIN_ROLES = (
    ("escrow", "DEFAULT_ADMIN_ROLE"),
    ("market", "DEFAULT_ADMIN_ROLE"),
    ("staking", "DEFAULT_ADMIN_ROLE"),
    ("staking", "ARBITER_ROLE"),
    ("timelock", "DEFAULT_ADMIN_ROLE"),
    ("timelock", "PROPOSER_ROLE"),
)
BLUEPRINT_PREAMBLE = b"\xfe\x71\x00"  # EIP-5202, version 0, no data section


@dataclass(frozen=True)
class CodeLayout:
    runtime_size: int
    immutables_size: int


def code_layout(artifact: Artifact) -> CodeLayout:
    """Sizes from the CBOR metadata Vyper appends to the init code (its last 2 bytes: the length)."""
    init = artifact.bytecode
    length = int.from_bytes(init[-2:], "big")
    meta = cbor2.loads(init[-length:-2])
    runtime_size, immutables_size = int(meta[1]), int(meta[3])
    if runtime_size != len(artifact.runtime_bytecode):  # pragma: no cover - another compiler's layout
        raise IntegrityError(f"{artifact.name}: unexpected Vyper metadata {meta!r}", field="contracts")
    return CodeLayout(runtime_size, immutables_size)


def code_matches(code: bytes, artifact: Artifact) -> bool:
    """Whether deployed ``code`` is ``artifact``'s runtime code followed by its immutables."""
    layout = code_layout(artifact)
    return (
        len(code) == layout.runtime_size + layout.immutables_size
        and code[: layout.runtime_size] == artifact.runtime_bytecode
    )


def _fields(deployment: Any) -> dict[str, str]:
    return {k: v for k, v in vars(deployment).items() if isinstance(v, str)}


def verify_deployment(client: ChainClient, deployment: Any, *, source: str = "deployment") -> None:
    """Raise IntegrityError naming the first address whose code or wiring is not DataCoop's.

    Args:
        client: the chain.
        deployment: a :class:`~datacoop.chain.deploy.Deployment` (fields it lacks are skipped).
        source: where the addresses came from (the deployment file), for the message.
    """
    fields = _fields(deployment)
    if getattr(deployment, "chain_id", client.chain_id) != client.chain_id:
        raise IntegrityError(
            f"{source} is for chain {deployment.chain_id}, the node at {client.rpc_url} is chain "
            f"{client.chain_id}",
            field="chain_id",
        )
    for field, name in VERIFIED.items():
        if fields.get(field) and not code_matches(client.code_at(fields[field]), compile_contract(name)):
            raise IntegrityError(
                f"{source}: {field} {fields[field]} does not hold DataCoop's compiled {name} "
                "(runtime code or immutables size differ)",
                field=field,
            )
    if fields.get("vault_blueprint"):
        expected = BLUEPRINT_PREAMBLE + compile_contract("TaskVault").bytecode
        if client.code_at(fields["vault_blueprint"]) != expected:
            raise IntegrityError(
                f"{source}: vault_blueprint {fields['vault_blueprint']} is not TaskVault's blueprint",
                field="vault_blueprint",
            )
    for field, getter, target in _WIRING:
        if fields.get(field) and fields.get(target) and _has_getter(VERIFIED[field], getter):
            got = client.contract(VERIFIED[field], fields[field]).functions[getter]().call()
            if Web3.to_checksum_address(got) != Web3.to_checksum_address(fields[target]):
                raise IntegrityError(
                    f"{source}: {VERIFIED[field]}.{getter} is {got}, not the {target} {fields[target]}",
                    field=target,
                )


def _has_getter(name: str, getter: str) -> bool:
    return any(f.get("type") == "function" and f.get("name") == getter for f in compile_contract(name).abi)


def is_test_token(client: ChainClient, address: str) -> bool:
    """Whether ``address`` runs the open-mint TestToken (anyone may mint: worthless by design)."""
    return code_matches(client.code_at(address), compile_contract("TestToken"))


def refuse_unsafe_deployment(client: ChainClient, deployment: Any, operator: str, *, source: str) -> None:
    """Production's chain refusals: a TestToken to pay in, or the operator's key holding the admin role.

    Raises:
        InvalidInput: naming the deployment field (and the ``deployment_file`` it came from).
    """
    fields = _fields(deployment)
    token = fields.get("token")
    if token and is_test_token(client, token):
        raise InvalidInput(
            f"token {token} in {source} (deployment_file) is the open-mint TestToken, refused in "
            "production: anyone can mint it; deploy with a real ERC-20 (`datacoop deploy`)",
            field="token",
        )
    for field, role in _ADMIN_ROLES:
        if fields.get(field) and _has_getter(VERIFIED[field], role):
            contract = client.contract(VERIFIED[field], fields[field])
            role_id = contract.functions[role]().call()
            if contract.functions.hasRole(role_id, Web3.to_checksum_address(operator)).call():
                raise InvalidInput(
                    f"admin: the operator {operator} holds {role} on {VERIFIED[field]} ({source}); in "
                    "production the admin must be another address (a multisig or the timelock): "
                    "redeploy with `datacoop deploy --admin ADDR`, or revoke the role",
                    field="admin",
                )
