"""Any ERC-20 per task, on a real anvil: a 6-decimal token with EIP-2612 permit (a USDC stand-in).

The requester funds a task with one permit signature, sent by someone else (the relayer pays its
gas): the requester's own wallet sends only ``openTask``, never ``approve``. Amounts come back
through the API in the token's own decimals.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from tests.conftest import REPO
from tests.integration.chain.test_settlement import _accept

from datacoop.app import Node, build_node
from datacoop.chain import tokens
from datacoop.chain.anvil import AnvilNode
from datacoop.chain.artifacts import compile_contract
from datacoop.chain.client import ChainClient
from datacoop.chain.contracts import TaskEscrow, TestToken
from datacoop.db import Database
from datacoop.errors import Conflict, Unprocessable
from datacoop.settings import Settings
from datacoop.settlement import wallet
from datacoop.tasks.schemas import TaskCreate, TaskPublic

USDC = 10**6  # one whole token of the 6-decimal PermitToken


def _deploy_permit_token(chain: ChainClient, deployer: LocalAccount, version: str = "1") -> TestToken:
    artifact = compile_contract("PermitToken", source_dir=REPO / "contracts" / "tests" / "mocks")
    factory = chain.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    data = factory.constructor("USD Coin", "USDC", version).data_in_transaction
    receipt = chain.send(deployer, {"data": data})
    assert receipt.contract_address is not None
    return TestToken(chain, receipt.contract_address)  # its mint, balanceOf and approve are TestToken's


@pytest.fixture
def usdc(chain: ChainClient, accounts: list[LocalAccount]) -> TestToken:
    return _deploy_permit_token(chain, accounts[5])


@pytest.fixture
def node(
    tmp_path: Path, db: Database, clock: Any, anvil: AnvilNode, accounts: list[LocalAccount]
) -> Iterator[Node]:
    settings = Settings(
        data_dir=tmp_path / "node", chain="rpc", rpc_url=anvil.url, operator_key="0x" + accounts[0].key.hex()
    )
    built = build_node(settings, db=db, clock=clock, migrate=False)
    yield built
    built.close()


def _task(sdk: Any, requester: LocalAccount, **fields: Any) -> TaskPublic:
    body = {
        "title": "Masks",
        "description": "photos of protective masks",
        "modality": "image",
        "target_count": 10,
        "deadline": "2030-01-01T00:00:00Z",
        "consent_text": "ok",
        **fields,
    }
    task: TaskPublic = sdk(requester).create_task(TaskCreate.model_validate(body))
    return task


def test_reads_symbol_and_decimals_and_refuses_what_is_no_erc20(
    chain: ChainClient, usdc: TestToken, accounts: list[LocalAccount]
) -> None:
    # Execute
    read = tokens.read_token(chain, usdc.address.lower())
    with pytest.raises(Unprocessable) as no_code:
        tokens.read_token(chain, accounts[3].address)  # an account, no contract
    with pytest.raises(Unprocessable) as no_decimals:
        tokens.read_token(chain, _deploy_plain_erc20(chain, accounts[5]))  # a contract without decimals()
    # Assert
    assert read == tokens.TokenInfo(usdc.address, "USDC", 6)
    assert no_code.value.field == no_decimals.value.field == "token"
    assert "no contract code" in no_code.value.message
    assert "decimals()" in no_decimals.value.message


def test_permit_domain_is_the_one_the_token_checks(
    chain: ChainClient, usdc: TestToken, accounts: list[LocalAccount]
) -> None:
    v2 = _deploy_permit_token(chain, accounts[5], version="2")  # USDC's FiatToken says version 2
    plain = TestToken(chain, _deploy_plain_erc20(chain, accounts[5]))
    assert tokens.read_permit_domain(chain, usdc.address).version == "1"
    assert tokens.read_permit_domain(chain, v2.address).version == "2"
    assert not wallet.supports_permit(chain.rpc_url, plain.address)
    assert wallet.supports_permit(chain.rpc_url, v2.address)


def _deploy_plain_erc20(chain: ChainClient, deployer: LocalAccount) -> str:
    """The USDT-style mock: no permit (funding falls back to approve), and not even decimals()."""
    artifact = compile_contract("NoReturnToken", source_dir=REPO / "contracts" / "tests" / "mocks")
    data = (
        chain.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode).constructor().data_in_transaction
    )
    address = chain.send(deployer, {"data": data}).contract_address
    assert address is not None
    return address


def test_a_task_in_a_6_decimal_token_funded_with_one_permit(
    node: Node, sdk: Any, db: Database, chain: ChainClient, usdc: TestToken, accounts: list[LocalAccount]
) -> None:
    # Prepare: the requester holds 100 USDC and asks 12.5 USDC per item, typed as a person types it
    operator, requester, contributor, relayer = accounts[0], accounts[1], accounts[2], accounts[4]
    assert node.chain is not None
    escrow = TaskEscrow(chain, node.chain.deployment.escrow)
    chain.send(relayer, usdc.mint(requester.address, 100 * USDC).as_tx())
    task = _task(sdk, requester, token=usdc.address, reward="12.5")
    nonce_before = chain.w3.eth.get_transaction_count(requester.address)
    # Execute: one signature; the relayer sends the permit, the requester only openTask
    funded = wallet.fund_task_with_permit(
        chain.rpc_url, requester, token=usdc.address, escrow=escrow.address, amount=100 * USDC,
        deadline=int(task.deadline.timestamp()), claim_window_s=30 * 86_400,
        reward_per_item=int(task.reward_per_item), relayer=relayer,
    )  # fmt: skip
    linked = sdk(requester).link_escrow(task.id, funded.escrow_task_id)
    _accept(db, task.id, contributor, 2)
    epoch = sdk(operator).close_epoch(task.id)
    _settle(node)
    # Assert: no approve from the requester's wallet, and the budget in the task's vault
    assert chain.w3.eth.get_transaction_count(requester.address) == nonce_before + 1  # openTask only
    on_chain = escrow.task(funded.escrow_task_id)
    assert (on_chain.token, on_chain.funded, on_chain.reward_per_item) == (
        usdc.address,
        100 * USDC,
        12_500_000,
    )
    assert usdc.balance_of(on_chain.vault) == 100 * USDC and usdc.balance_of(requester.address) == 0
    assert tokens.allowance(chain, usdc.address, requester.address, escrow.address) == 0
    # ... and every amount in 6-decimal units, the token named beside it
    assert task.token is not None and task.token.model_dump() == {
        "address": usdc.address, "symbol": "USDC", "decimals": 6,
    }  # fmt: skip
    assert task.reward_per_item == str(12_500_000) and task.token.format(task.reward_per_item) == "12.5 USDC"
    assert int(linked["funded"]) == 100 * USDC
    assert epoch is not None and int(epoch["total"]) == 25 * USDC
    spend = sdk(requester).spend(task.id)
    assert task.token.format(spend["remaining"]) == "75 USDC"
    claims = sdk(contributor).claims()
    assert [task.token.format(c["claimable"]) for c in claims] == ["25 USDC"]
    statement = sdk(contributor).statement()["epochs"]
    usdc_json = task.token.model_dump()
    named = [linked["token"], epoch["token"], spend["token"], claims[0]["token"], statement[0]["token"]]
    assert named == [usdc_json] * 5  # every response with an amount of the task names its token
    assert [e["token"] for e in sdk(requester).epochs(task.id)] == [usdc_json]


def test_refusals_name_the_field(
    node: Node, sdk: Any, api: Any, chain: ChainClient, usdc: TestToken, accounts: list[LocalAccount]
) -> None:
    # Prepare: a task in USDC, and an escrow task opened in the node's own token
    requester = accounts[1]
    assert node.chain is not None
    client = sdk(requester)
    task = _task(sdk, requester, token=usdc.address, reward_per_item=1)
    dct = TestToken(chain, node.chain.deployment.token)
    chain.send(requester, dct.mint(requester.address, 10**18).as_tx())
    funded = wallet.fund_task(
        chain.rpc_url, requester, token=dct.address, escrow=node.chain.deployment.escrow, amount=10**18,
        deadline=int(task.deadline.timestamp()), claim_window_s=30 * 86_400,
    )  # fmt: skip
    body = {
        "title": "Masks", "description": "d", "modality": "image", "target_count": 1, "consent_text": "ok",
        "deadline": "2030-01-01T00:00:00Z", "token": usdc.address, "reward": "0.0000001",
    }  # fmt: skip
    # Execute
    finer = api.post("/v1/tasks", json=body, headers={"Authorization": f"Bearer {client._token}"})
    with pytest.raises(Unprocessable) as other_token:
        client.link_escrow(task.id, funded.escrow_task_id)
    default = _task(sdk, requester, reward="1")  # no token named: the node's own (18 decimals)
    # Assert
    assert finer.status_code == 422
    assert (finer.json()["error"]["field"], finer.json()["error"]["limit"]) == ("reward", 6)
    assert other_token.value.field == "escrow_task_id" and "pays in USDC" in other_token.value.message
    assert default.token is not None and default.token.decimals == 18
    assert default.reward_per_item == str(10**18)


def test_a_bad_permit_is_refused_by_the_token(
    chain: ChainClient, usdc: TestToken, accounts: list[LocalAccount]
) -> None:
    requester, thief = accounts[1], accounts[3]
    domain = tokens.read_permit_domain(chain, usdc.address)
    typed = tokens.permit_typed_data(domain, requester.address, thief.address, 5 * USDC, 0, 2**40)
    forged = tokens.sign_permit(thief, typed)  # not the owner's signature
    with pytest.raises(Conflict):
        chain.send(thief, tokens.permit_call(typed, forged).as_tx())
    assert tokens.allowance(chain, usdc.address, requester.address, thief.address) == 0


def _settle(node: Node) -> None:
    """Drive the outbox and settlement until every epoch is confirmed (or failed)."""
    assert node.chain is not None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        node.chain.relay.step()
        node.settlement.tick()
        time.sleep(0.02)
        if all(
            e.status in ("confirmed", "failed")
            for t in node.settlement.funded_tasks()
            for e in node.settlement.epochs(t)
        ):
            return
    raise AssertionError("the epoch did not confirm")
