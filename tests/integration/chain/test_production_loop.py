"""Issue 19's whole loop in production mode, on a chain that is not anvil's default (issue 19, "Done when").

A local anvil serves chain 84532 with a block every second. The test deploys a 6-decimal EIP-2612
token (USDC's shape), runs `datacoop deploy` from the operator's scrypt keystore with a separate
admin behind a timelock, and builds a production node on PostgreSQL that signs with that keystore
and counts a transaction at 3 confirmations; its chain follower runs in a thread, as under `up`.
Then, through the API: a task funded with one permit, a contributor who never holds ETH submits
signed items, they are accepted, an epoch's root is posted, its challenge window passes, and the
contributor's signed claim is relayed by the node for a capped fee; a version is listed, sold and
delivered only once the watcher holds the sale at the confirmation depth.
"""

from __future__ import annotations

import json
import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy import select
from tests.conftest import FAST_STAGES
from tests.integration.chain.test_deploy_network import CHAIN_ID, MOCKS, _deploy_code
from tests.unit.datasets.conftest import Accepted, cli_database_url
from typer.testing import CliRunner

from datacoop.app import Node, build_node
from datacoop.chain.anvil import AnvilNode
from datacoop.chain.client import ChainClient
from datacoop.chain.contracts import LicenseMarket, TaskEscrow, TestToken
from datacoop.chain.gasless import MAX_RELAYER_FEE_BPS, ClaimAuthorisation, SignedClaim
from datacoop.cli import app
from datacoop.client import DataCoopClient, derive_dev_accounts
from datacoop.db import Database
from datacoop.db.models import Order
from datacoop.settings import Settings
from datacoop.settlement import wallet
from datacoop.tasks.schemas import TaskCreate

# conftest's `db`, its PostgreSQL half only (production refuses the SQLite default); skipped without a server
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.parametrize("db", ["postgres"], indirect=True),
]

USDC = 10**6  # one whole token of the 6-decimal PermitToken
CONFIRMATIONS = 3
CHALLENGE_S = 3600  # the escrow's minimum window off chain 31337, what openTask gets when none is named
PRICE = 5 * USDC
PASSWORD = "operator pass phrase"
T = TypeVar("T")


@dataclass
class Production:
    node: Node
    chain: ChainClient
    operator: LocalAccount  # its key lives in the keystore; the test keeps it only to sign in
    usdc: TestToken  # PermitToken: TestToken's mint, balanceOf and approve
    deployment: dict[str, Any]


def _deploy(anvil: AnvilNode, db: Database, tmp: Path, usdc: str, admin: str) -> tuple[Path, Path, Path]:
    """`datacoop deploy` from a fresh operator keystore, in a production environment: the keystore,
    its password file and the deployment file."""
    operator = Account.create()
    keystore, password, out = tmp / "operator.json", tmp / "password", tmp / "deployment.json"
    password.write_text(PASSWORD + "\n")
    keystore.write_text(json.dumps(Account.encrypt(operator.key, PASSWORD, kdf="scrypt", iterations=2**10)))
    ChainClient(anvil.url).rpc("anvil_setBalance", [operator.address, hex(10**20)])
    env = {
        "DATACOOP_ENVIRONMENT": "production", "DATACOOP_CHAIN": "rpc", "DATACOOP_DEV_ACCOUNTS": "0",
        "DATACOOP_DATABASE_URL": cli_database_url(db), "DATACOOP_DOWNLOAD_SECRET": "d" * 32,
    }  # fmt: skip
    args = [
        "deploy", "--rpc-url", anvil.url, "--chain-id", str(CHAIN_ID), "--keystore", str(keystore),
        "--password-file", str(password), "--data-dir", str(tmp / "deployer"), "--out", str(out),
        "--token", usdc, "--admin", admin, "--timelock-delay", "3600", "--json",
    ]  # fmt: skip
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    return keystore, password, out


@pytest.fixture
def production(tmp_path: Path, db: Database) -> Iterator[Production]:
    with AnvilNode(tmp_path / "chain", chain_id=CHAIN_ID, block_time=1) as anvil:
        chain = ChainClient(anvil.url)
        usdc = _deploy_code(chain, "PermitToken", MOCKS, "USD Coin", "USDC", "2")
        keystore, password, out = _deploy(anvil, db, tmp_path, usdc, admin=Account.create().address)
        settings = Settings(
            environment="production", chain="rpc", rpc_url=anvil.url, chain_id=CHAIN_ID, dev_accounts=0,
            operator_keystore=keystore, operator_password_file=password, deployment_file=out,
            database_url=db.url, download_secret="d" * 32, confirmations=CONFIRMATIONS,
            data_dir=tmp_path / "node", stages=list(FAST_STAGES), text_model="none",
        )  # fmt: skip
        node = build_node(settings, db=db, migrate=False)
        try:
            operator = Account.from_key(Account.decrypt(json.loads(keystore.read_text()), PASSWORD))
            node.start_chain_follower()  # the one thread that sends, watches and settles, as under `up`
            yield Production(node, chain, operator, TestToken(chain, usdc), json.loads(out.read_text()))
        finally:
            node.close()


@pytest.fixture
def node(production: Production) -> Node:
    return production.node  # the `api` and `sdk` fixtures talk to it


def _until(probe: Callable[[], T | None], what: str, timeout: float = 90) -> T:
    """``probe()``'s first answer that is not None, asked every 0.2 s (the chain follower works meanwhile)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = probe()
        if got is not None:
            return got
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout}s")


def _settled(listing: dict[str, Any]) -> dict[str, Any] | None:
    return None if listing["status"] == "pending" else listing


def _mine_after(chain: ChainClient, seconds: int) -> None:
    chain.rpc("evm_increaseTime", [seconds])
    chain.rpc("evm_mine", [])


def _send_unmined(chain: ChainClient, account: LocalAccount, tx: dict[str, Any]) -> str:
    """Sign and send without waiting: while interval mining is paused it waits for the next evm_mine."""
    tx = {"from": account.address, "chainId": chain.chain_id, **tx}
    tx["gas"] = int(chain.w3.eth.estimate_gas(tx) * 1.2)  # type: ignore[arg-type]
    tx["nonce"] = chain.w3.eth.get_transaction_count(account.address, "pending")
    base = chain.w3.eth.get_block("latest").get("baseFeePerGas", 0)
    tx["maxPriorityFeePerGas"], tx["maxFeePerGas"] = 10**9, 2 * base + 10**9
    return "0x" + bytes(chain.w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction)).hex()


def _relay_body(
    chain: ChainClient, claim: dict[str, Any], who: LocalAccount, relayer: str, fee: int
) -> dict[str, Any]:
    """The API's body of a gasless claim: ``who`` signs the EIP-712 Claim of ``claim`` (its vault)."""
    now = chain.w3.eth.get_block("latest")["timestamp"]
    auth = ClaimAuthorisation(chain.chain_id, claim["vault"], who.address, int(claim["cumulative"]), relayer,
                              fee, now + 3600)  # fmt: skip
    signed = SignedClaim.sign(who, auth)
    signature = "0x" + (signed.r + signed.s + bytes([signed.v])).hex()
    return {
        "chain_id": auth.chain_id, "vault": auth.vault, "account": auth.account,
        "cumulative": str(auth.cumulative), "relayer": relayer, "fee": str(fee),
        "deadline": str(auth.deadline), "signature": signature,
    }  # fmt: skip


def test_the_production_loop_on_a_non_default_chain(production: Production, sdk: Any) -> None:
    # Prepare: a requester and a buyer with ETH and USDC; a contributor with no ETH at all
    p, node = production, production.node
    requester, permit_relayer, buyer = derive_dev_accounts(4)[1:]
    contributor = Account.create()
    escrow = TaskEscrow(p.chain, p.deployment["escrow"])
    p.chain.send(permit_relayer, p.usdc.mint(requester.address, 100 * USDC).as_tx())
    p.chain.send(permit_relayer, p.usdc.mint(buyer.address, PRICE).as_tx())
    as_requester, as_contributor = sdk(requester), sdk(contributor)
    as_operator: DataCoopClient = sdk(p.operator)
    usdc_json = {"address": p.usdc.address, "symbol": "USDC", "decimals": 6}
    assert p.chain.chain_id == CHAIN_ID and p.deployment["admin"] == p.deployment["timelock"]
    assert node.settings.environment == "production" and node.chain is not None
    assert node.chain.operator.address == p.operator.address != p.deployment["admin"]

    # Execute/Assert 1: a task in USDC, funded with one permit (the requester sends openTask only)
    task = as_requester.create_task(TaskCreate.model_validate({
        "title": "Masks", "description": "photos of protective masks", "modality": "image",
        "target_count": 10, "deadline": "2030-01-01T00:00:00Z", "consent_text": "ok",
        "token": p.usdc.address, "reward": "12.5",
    }))  # fmt: skip
    nonce = p.chain.w3.eth.get_transaction_count(requester.address)
    funded = wallet.fund_task_with_permit(
        p.chain.rpc_url, requester, token=p.usdc.address, escrow=escrow.address, amount=100 * USDC,
        deadline=int(task.deadline.timestamp()), claim_window_s=30 * 86_400,
        reward_per_item=int(task.reward_per_item), relayer=permit_relayer,
    )  # fmt: skip
    linked = as_requester.link_escrow(task.id, funded.escrow_task_id)
    assert p.chain.w3.eth.get_transaction_count(requester.address) == nonce + 1  # openTask, no approve
    assert task.token is not None and task.token.model_dump() == usdc_json
    assert (task.reward_per_item, linked["funded"], linked["token"]) == (
        "12500000",
        str(100 * USDC),
        usdc_json,
    )

    # 2: two items the contributor uploaded and signed with their wallet, accepted
    items = Accepted(node, task, as_contributor, [])
    items.add(2, jurisdiction="KE")
    assert [s.state for s in as_contributor.my_submissions(task.id)] == ["accepted"] * 2

    # 3: an epoch closes; its root is posted and confirmed; nothing is claimable inside its window
    closed = as_operator.close_epoch(task.id)
    assert closed is not None and (closed["total"], closed["token"]) == (str(25 * USDC), usdc_json)
    _until(lambda: as_requester.epochs(task.id)[0]["status"] == "confirmed" or None, "epoch confirmed")
    on_chain = escrow.task(funded.escrow_task_id)
    assert (on_chain.token, on_chain.reward_per_item) == (p.usdc.address, 12_500_000)
    assert as_contributor.claims() == []
    _mine_after(p.chain, CHALLENGE_S)
    (claim,) = _until(lambda: as_contributor.claims() or None, "claim open after the window")
    assert (claim["cumulative"], claim["claimable"], claim["token"]) == (
        str(25 * USDC),
        str(25 * USDC),
        usdc_json,
    )

    # 4: the gasless claim, signed by the contributor and relayed by the node for the capped fee
    fee = 25 * USDC * MAX_RELAYER_FEE_BPS // 10_000  # 2.5 USDC: the most the vault lets a relayer take
    eth_before = p.chain.w3.eth.get_balance(contributor.address)
    operator_usdc = p.usdc.balance_of(p.operator.address)
    body = _relay_body(p.chain, claim, contributor, p.operator.address, fee)
    relayed = as_contributor._http.post(f"/v1/claims/{task.id}/relay", json=body)
    assert relayed.status_code == 202, relayed.text
    _until(lambda: as_contributor.claims()[0]["claimable"] == "0" or None, "claim paid")
    assert eth_before == 0 and p.chain.w3.eth.get_balance(contributor.address) == 0
    assert p.usdc.balance_of(contributor.address) == 25 * USDC - fee == 22_500_000
    assert p.usdc.balance_of(p.operator.address) - operator_usdc == fee
    assert p.chain.w3.eth.get_transaction_count(contributor.address) == 0  # never sent anything
    spend = as_requester.spend(task.id)
    assert (spend["paid"], spend["remaining"], spend["token"]) == (str(25 * USDC), str(75 * USDC), usdc_json)

    # 5: a version published and listed in USDC
    dataset = as_requester.create_dataset("masks", {"task_ids": [task.id]})
    version = as_requester.create_dataset_version(dataset.id)
    _until(lambda: as_requester.dataset_version(version.id).anchor.status == "confirmed" or None, "anchor")
    created = as_requester.create_listing(
        version.id, price=PRICE, licence="CC-BY-4.0", duration_s=30 * 86_400, royalty_bps=3_000,
        access_modes=["download"], data_category="personal", consent_scope="separate",
    )  # fmt: skip
    listing = _until(lambda: _settled(as_requester.listing(created["id"])), "listing sent")
    assert listing["status"] == "listed", listing
    assert (listing["token"], listing["price"]) == (p.usdc.address, str(PRICE))
    assert [x["id"] for x in sdk(buyer).listings()] == [listing["id"]]

    # 6: the buyer pays; the order exists only once the sale is 3 blocks deep
    market = LicenseMarket(p.chain, p.deployment["market"])
    p.chain.send(buyer, p.usdc.approve(market.address, PRICE).as_tx())
    as_buyer = sdk(buyer)
    p.chain.rpc("evm_setIntervalMining", [0])  # blocks only when the test mines them, from here
    try:
        tx_hash = _send_unmined(p.chain, buyer, market.buy(listing["market_listing_id"]).as_tx())
        answers = []
        body = {"listing_id": listing["id"], "tx_hash": tx_hash, "jurisdiction": "US", "purpose": "training"}
        for _ in range(CONFIRMATIONS - 1):  # the sale 1, then 2 blocks deep
            p.chain.rpc("evm_mine", [])
            early = as_buyer._http.post("/v1/orders", json=body, headers=as_buyer._auth_headers())
            answers.append(
                (early.status_code, early.json()["error"]["field"], early.json()["error"]["limit"])
            )
        with node.db.transaction() as s:
            assert s.scalars(select(Order)).all() == []
        p.chain.rpc("evm_mine", [])  # 3 blocks deep: the watcher holds it final
        order = as_buyer.place_order(listing["id"], tx_hash, "US", wait_s=30)
    finally:
        p.chain.rpc("evm_setIntervalMining", [1])
    receipt = p.chain.receipt(tx_hash)
    assert receipt is not None
    assert answers == [(409, "confirmations", CONFIRMATIONS)] * 2
    assert p.chain.block_number() - receipt.block_number + 1 >= CONFIRMATIONS
    assert (order["amount"], order["granted"]) == (str(PRICE), [0, 1])

    # 7: delivered
    export = as_buyer.download(order["id"], Path(node.settings.data_dir) / "order.tar")
    with tarfile.open(export) as tar:
        names = tar.getnames()
        assert names[0] == "order.json" and sorted(n for n in names if n.endswith(".jpg")) == [
            "000000.jpg",
            "000001.jpg",
        ]
        assert tar.extractfile("000001.jpg").read() == b"scrubbed photo 2"  # type: ignore[union-attr]
