"""POST /v1/chain/rpc relays a browser's JSON-RPC to the node's real chain (anvil), and only the methods
a wallet app needs: nothing that administers the chain."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from tests.unit.api.wire import post_until_answered, serve

from datacoop.api.app import create_app
from datacoop.app import Node, build_node
from datacoop.chain.anvil import AnvilNode
from datacoop.db import Database
from datacoop.settings import Settings


@pytest.fixture
def api(
    tmp_path: Path, db: Database, clock: Any, anvil: AnvilNode, accounts: list[LocalAccount]
) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path / "node", chain="rpc", rpc_url=anvil.url, operator_key="0x" + accounts[0].key.hex()
    )
    node: Node = build_node(settings, db=db, clock=clock, migrate=False)
    with TestClient(create_app(node), raise_server_exceptions=False) as client:
        yield client
    node.close()


def _call(api: TestClient, body: Any) -> Any:
    response = api.post("/v1/chain/rpc", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_reads_and_raw_transactions_are_relayed(api: TestClient, accounts: list[LocalAccount]) -> None:
    # Prepare: a transfer signed in the "browser" (here: by the test's key)
    nonce = int(_call(api, {"jsonrpc": "2.0", "id": 1, "method": "eth_getTransactionCount",
                            "params": [accounts[1].address, "pending"]})["result"], 16)  # fmt: skip
    signed = accounts[1].sign_transaction(
        {
            "to": accounts[2].address,
            "value": 1,
            "gas": 21_000,
            "gasPrice": 10**10,
            "nonce": nonce,
            "chainId": 31337,
        }
    )
    # Execute
    chain_id = _call(api, {"jsonrpc": "2.0", "id": 7, "method": "eth_chainId"})
    batch = _call(api, [{"jsonrpc": "2.0", "id": "a", "method": "eth_blockNumber"},
                        {"jsonrpc": "2.0", "id": "b", "method": "eth_sendRawTransaction",
                         "params": ["0x" + signed.raw_transaction.hex().removeprefix("0x")]}])  # fmt: skip
    # Assert
    assert chain_id == {"jsonrpc": "2.0", "id": 7, "result": hex(31337)}
    assert [answer["id"] for answer in batch] == ["a", "b"]
    assert batch[1]["result"].startswith("0x") and len(batch[1]["result"]) == 66
    receipt = _call(api, {"jsonrpc": "2.0", "id": 2, "method": "eth_getTransactionReceipt",
                          "params": [batch[1]["result"]]})["result"]  # fmt: skip
    assert receipt is not None and receipt["status"] == "0x1"


@pytest.mark.parametrize("method", ["anvil_setBalance", "evm_mine", "eth_sendTransaction", "debug_traceCall"])
def test_administrative_methods_are_refused(api: TestClient, method: str) -> None:
    answer = _call(api, {"jsonrpc": "2.0", "id": 3, "method": method, "params": []})
    assert answer["id"] == 3 and answer["error"]["code"] == -32601
    assert method in answer["error"]["message"]


def test_malformed_bodies_get_json_rpc_errors(api: TestClient) -> None:
    not_json = api.post("/v1/chain/rpc", content=b"{nope", headers={"Content-Type": "application/json"})
    too_many = _call(api, [{"jsonrpc": "2.0", "id": i, "method": "eth_chainId"} for i in range(21)])
    no_method = _call(api, {"jsonrpc": "2.0", "id": 4})
    assert not_json.json()["error"]["code"] == -32700
    assert too_many["error"]["code"] == -32600 and "1 to 20" in too_many["error"]["message"]
    assert no_method["error"]["code"] == -32600


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"[" * 100_000, "nest deeper than"),
        (
            b'{"jsonrpc": "2.0", "id": 1, "method": "eth_call", "params": ' + b"[" * 40 + b"]" * 40 + b"}",
            "nest deeper than 32 levels",
        ),
        (b'{"jsonrpc": "2.0", "id": NaN, "method": "eth_chainId"}', "NaN is not JSON"),
        (b'{"jsonrpc": "2.0", "id": -Infinity, "method": "eth_chainId"}', "-Infinity is not JSON"),
        (b'{"jsonrpc": "2.0", "id": 1e400, "method": "eth_chainId"}', "1e400 does not fit a double"),
    ],
)
def test_hostile_json_gets_a_parse_error_not_a_500(api: TestClient, body: bytes, why: str) -> None:
    # Execute
    response = api.post("/v1/chain/rpc", content=body, headers={"Content-Type": "application/json"})
    # Assert
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["jsonrpc"], answer["id"], answer["error"]["code"]) == ("2.0", None, -32700)
    assert why in answer["error"]["message"]


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_a_body_over_the_limit_is_refused_without_reading_on(api: TestClient, declared: bool) -> None:
    # Execute: 200 MiB offered to the relay, with no session, over a real socket
    with serve(api.app) as port:
        answer = post_until_answered(port, "/v1/chain/rpc", total=200 * 1024**2, declared=declared)
    # Assert: refused at 256 KiB, long before the client got the rest out
    assert answer.status == 413
    assert answer.body["error"] == {
        "code": "too_large",
        "message": "body is larger than the limit of 262,144 bytes",
        "field": "body",
        "limit": 262_144,
    }
    assert answer.sent < 8 * 1024**2


def test_a_chain_that_is_down_gets_a_json_rpc_error_not_a_500(api: TestClient, anvil: AnvilNode) -> None:
    anvil.stop()
    answer = _call(api, {"jsonrpc": "2.0", "id": 5, "method": "eth_blockNumber"})
    assert answer["id"] == 5 and answer["error"]["code"] == -32603
    assert "did not answer" in answer["error"]["message"]
