"""`datacoop deploy` on a network that is not anvil's default: chain id 84532, a block every 2 s.

The deployer is a fresh key held in a scrypt keystore, funded with anvil_setBalance; the command
runs through the CLI entry (typer's runner). One deployment per module: every test reads it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from typer.testing import CliRunner, Result

from datacoop.chain.anvil import AnvilNode
from datacoop.chain.artifacts import compile_contract
from datacoop.chain.client import ChainClient
from datacoop.chain.setup import connect_chain
from datacoop.chain.tokens import TokenReader
from datacoop.chain.verify import refuse_unsafe_deployment
from datacoop.cli import app
from datacoop.client import derive_dev_accounts
from datacoop.db import Database
from datacoop.errors import InvalidInput
from datacoop.settings import Settings

CHAIN_ID = 84_532  # Base Sepolia's id, served by a local anvil
MOCKS = Path(__file__).resolve().parents[3] / "contracts" / "tests" / "mocks"


@dataclass
class Network:
    node: AnvilNode
    client: ChainClient
    deployer: LocalAccount
    keystore: Path
    password: Path
    data_dir: Path
    out: Path
    usdc: str  # a 6-decimal EIP-2612 token (USDC's shape), deployed by the test
    first: Result

    def deploy(self, *extra: str, out: Path | None = None, env: dict[str, str] | None = None) -> Result:
        args = ["deploy", "--rpc-url", self.node.url, "--chain-id", str(CHAIN_ID),
                "--keystore", str(self.keystore), "--password-file", str(self.password),
                "--data-dir", str(self.data_dir), "--out", str(out or self.out), *extra]  # fmt: skip
        return CliRunner().invoke(app, args, env=env)

    def nonce(self) -> int:
        return self.client.w3.eth.get_transaction_count(self.deployer.address)


def _deploy_code(client: ChainClient, name: str, source_dir: Path | None, *args: object) -> str:
    """A contract deployed by the test from an anvil dev account (not through DataCoop)."""
    artifact = compile_contract(name, source_dir=source_dir)
    factory = client.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    receipt = client.send(derive_dev_accounts(1)[0], {"data": factory.constructor(*args).data_in_transaction})
    assert receipt.contract_address is not None
    return receipt.contract_address


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    tmp = tmp_path_factory.mktemp("network")
    deployer = Account.create()
    keystore, password = tmp / "deployer.json", tmp / "password"
    password.write_text("s3cret\n")
    keystore.write_text(json.dumps(Account.encrypt(deployer.key, "s3cret", kdf="scrypt", iterations=2**10)))
    with AnvilNode(tmp / "chain", chain_id=CHAIN_ID, block_time=2) as node:
        client = ChainClient(node.url)
        client.rpc("anvil_setBalance", [deployer.address, hex(10**20)])
        usdc = _deploy_code(client, "PermitToken", MOCKS, "USD Coin", "USDC", "2")
        net = Network(
            node, client, deployer, keystore, password, tmp / "data", tmp / "deployment.json", usdc, None
        )  # type: ignore[arg-type]
        net.first = net.deploy("--token", usdc)  # no --admin: a development deployment, operator is admin
        yield net


def test_deploy_writes_a_verified_deployment_for_the_chain(network: Network) -> None:
    assert network.first.exit_code == 0, network.first.output
    deployment = json.loads(network.out.read_text())
    assert deployment["chain_id"] == CHAIN_ID and deployment["operator"] == network.deployer.address
    assert "deployed DataCoop on custom (chain 84532)" in network.first.output
    assert deployment["token"] == network.usdc
    for name in ("escrow", "registry", "market", "staking"):
        assert network.client.code_at(deployment[name]), name
    # every contract sent from the keystore's key, and the report counts them
    assert network.nonce() >= 5 and f"{network.nonce()} transactions sent" in network.first.output


def test_a_second_run_attaches_without_a_transaction(network: Network) -> None:
    # Prepare
    nonce = network.nonce()
    before = network.out.read_text()
    # Execute
    again = network.deploy("--json")
    # Assert
    assert again.exit_code == 0, again.output
    report = json.loads(again.output)
    assert (report["attached"], report["transactions"]) == (True, 0)
    assert network.nonce() == nonce and network.out.read_text() == before


def test_a_lost_deployment_file_is_rebuilt_from_the_outbox_without_a_transaction(
    network: Network, tmp_path: Path
) -> None:
    # Prepare: same database (data dir), no file: as after a crash before the file was written
    nonce = network.nonce()
    # Execute
    again = network.deploy("--token", network.usdc, "--json", out=tmp_path / "rebuilt.json")
    # Assert: the outbox's records give the same contracts back; nothing sent
    assert again.exit_code == 0, again.output
    report = json.loads(again.output)
    assert (report["attached"], report["transactions"]) == (False, 0)
    assert json.loads((tmp_path / "rebuilt.json").read_text()) == json.loads(network.out.read_text())
    assert network.nonce() == nonce


def test_a_tampered_deployment_file_fails_loudly_before_signing(network: Network, tmp_path: Path) -> None:
    # Prepare: the escrow's address points at other code (the registry's)
    tampered = json.loads(network.out.read_text())
    tampered["escrow"] = tampered["registry"]
    path = tmp_path / "tampered.json"
    path.write_text(json.dumps(tampered))
    nonce = network.nonce()
    # Execute
    result = network.deploy(out=path)
    # Assert: exit 6 (integrity), the field and the contract named, nothing sent
    assert result.exit_code == 6, result.output
    assert "[escrow]" in result.stderr and "does not hold DataCoop's compiled TaskEscrow" in result.stderr
    assert network.nonce() == nonce


def test_an_endpoint_on_another_chain_is_refused(network: Network, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["deploy", "--rpc-url", network.node.url, "--network", "sepolia", "--out", str(tmp_path / "d.json")],
    )
    assert result.exit_code == 2 and "[chain_id]" in result.stderr
    assert f"serves chain {CHAIN_ID}, not sepolia's 11155111" in result.stderr


@pytest.mark.parametrize("option", ["--token", "--admin", "--treasury"])
def test_a_malformed_address_option_is_named(network: Network, tmp_path: Path, option: str) -> None:
    result = network.deploy(option, "0x1234", out=tmp_path / "d.json")
    assert (
        result.exit_code == 2 and f"[{option[2:]}]" in result.stderr and "is not an address" in result.stderr
    )
    assert not (tmp_path / "d.json").exists()


def _production(network: Network, deployment: Path, tmp_path: Path) -> Settings:
    return Settings(
        environment="production", chain="rpc", rpc_url=network.node.url, dev_accounts=0,
        database_url=f"sqlite:///{tmp_path / 'node.db'}", download_secret="k" * 32,
        operator_keystore=network.keystore, operator_password_file=network.password, chain_id=CHAIN_ID,
        deployment_file=deployment, data_dir=tmp_path / "node",
    )  # fmt: skip


def _sent_by(network: Network, since: int, from_nonce: int = 0) -> list[Any]:
    """The deployer's transactions mined from block ``since`` on, with a nonce of at least ``from_nonce``
    (one sent earlier may still be mined after ``since`` on a loaded machine)."""
    w3 = network.client.w3
    blocks = (w3.eth.get_block(n, full_transactions=True) for n in range(since, w3.eth.block_number + 1))
    return [tx for b in blocks for tx in b["transactions"]  # type: ignore[index]
            if tx["from"] == network.deployer.address and tx["nonce"] >= from_nonce]  # fmt: skip


def _start(settings: Settings) -> str:
    """Connect a production node's chain as `up` does; the deployment's token."""
    db = Database(settings.resolved_database_url)
    db.migrate()
    try:
        handle = connect_chain(settings, db, dev_keys=[])
        assert handle is not None
        handle.close()
        return handle.deployment.token
    finally:
        db.dispose()


def test_production_refuses_the_test_token(network: Network) -> None:
    # Prepare: the open-mint TestToken, recognised by its code (not by its name or address)
    test_token = _deploy_code(network.client, "TestToken", None, "Totally Real USD", "TRUSD", 6)
    deployment = SimpleNamespace(token=test_token)
    # Execute / Assert: the check `up` runs on a production deployment
    with pytest.raises(InvalidInput, match="open-mint TestToken, refused in production") as err:
        refuse_unsafe_deployment(network.client, deployment, network.deployer.address, source="d.json")
    assert err.value.field == "token" and "deployment_file" in err.value.message
    # and as a task's token, where a production node reads the token each task names
    tokens = TokenReader(network.client, None, refuse_test_token=True)
    with pytest.raises(InvalidInput, match="open-mint TestToken, refused in production") as named:
        tokens.resolve(test_token)
    assert named.value.field == "token" and tokens.resolve(network.usdc).decimals == 6


def test_production_refuses_an_operator_that_is_admin(network: Network, tmp_path: Path) -> None:
    # deployed without --admin, the operator's key is still the admin
    with pytest.raises(InvalidInput, match="holds DEFAULT_ADMIN_ROLE on TaskEscrow") as err:
        _start(_production(network, network.out, tmp_path))
    assert err.value.field == "admin"


def test_production_refuses_a_chain_id_other_than_the_endpoints(network: Network, tmp_path: Path) -> None:
    settings = _production(network, network.out, tmp_path).model_copy(update={"chain_id": 8453})
    with pytest.raises(InvalidInput, match=r"chain_id is 8453 but .* serves chain 84532") as err:
        _start(settings)
    assert err.value.field == "chain_id"


def test_production_never_deploys_implicitly(network: Network, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="run `datacoop deploy` first") as err:
        _start(_production(network, tmp_path / "missing.json", tmp_path))
    assert err.value.field == "deployment_file"


def test_production_deploys_a_real_token_behind_a_timelock_and_starts(
    network: Network, tmp_path: Path
) -> None:
    # Prepare: production settings in the environment, a 6-decimal permit token, a multisig's address
    env = {
        "DATACOOP_ENVIRONMENT": "production", "DATACOOP_CHAIN": "rpc", "DATACOOP_RPC_URL": network.node.url,
        "DATACOOP_DEV_ACCOUNTS": "0", "DATACOOP_DATABASE_URL": f"sqlite:///{tmp_path / 'outbox.db'}",
        "DATACOOP_DOWNLOAD_SECRET": "k" * 32,
    }  # fmt: skip
    usdc, multisig = network.usdc, Account.create().address
    out = tmp_path / "production.json"
    # Execute
    as_admin = network.deploy("--token", usdc, "--admin", network.deployer.address, out=out, env=env)
    no_token = network.deploy("--admin", multisig, out=out, env=env)
    first_block = network.client.block_number()
    first_nonce = network.client.w3.eth.get_transaction_count(network.deployer.address, "pending")
    done = network.deploy(
        "--token", usdc, "--admin", multisig, "--timelock-delay", "3600", "--json",
        "--priority-fee-gwei", "2", "--max-fee-gwei", "50", out=out, env=env,
    )  # fmt: skip
    # Assert: the operator as admin and the TestToken are refused before anything is sent
    assert as_admin.exit_code == 2 and "[admin]" in as_admin.stderr
    assert no_token.exit_code == 2 and "[token]" in no_token.stderr
    assert done.exit_code == 0, done.output
    report = json.loads(done.output)
    assert report["token"] == usdc and report["timelock"] and report["admin"] == report["timelock"]
    sent = _sent_by(network, first_block, first_nonce)
    assert len(sent) == report["transactions"] >= 9  # timelock, 5 contracts, 2 × (grant, renounce)
    assert {tx["maxPriorityFeePerGas"] for tx in sent} == {2 * 10**9}  # the fee policy asked for
    assert max(tx["maxFeePerGas"] for tx in sent) <= 50 * 10**9
    # a production node starts on it: keystore key, verified code, no TestToken, operator not admin
    handle_token = _start(_production(network, out, tmp_path))
    assert handle_token == usdc
