"""JSON-RPC forwarded for browser wallets: the read methods a wallet app needs, and signed transactions.

``POST /v1/chain/rpc`` hands its parsed calls here (through :meth:`ChainHandle.forward_rpc
<datacoop.chain.setup.ChainHandle.forward_rpc>`), so the interface never sees web3. Only the
methods in :data:`ALLOWED` reach the chain; ``eth_sendRawTransaction`` carries a transaction the
user's own key already signed, so forwarding it adds no authority. Everything else (``anvil_*``,
``evm_*``, ``debug_*``, ``eth_sendTransaction`` with an unlocked account) is answered with a
JSON-RPC error naming the method: the relay cannot administer the chain.
"""

from __future__ import annotations

from typing import Any, cast

from web3.providers.base import BaseProvider
from web3.types import RPCEndpoint

__all__ = ["ALLOWED", "forward", "rpc_error"]

ALLOWED = frozenset(
    {
        "eth_blockNumber",
        "eth_call",
        "eth_chainId",
        "eth_estimateGas",
        "eth_feeHistory",
        "eth_gasPrice",
        "eth_getBalance",
        "eth_getBlockByHash",
        "eth_getBlockByNumber",
        "eth_getCode",
        "eth_getLogs",
        "eth_getTransactionByHash",
        "eth_getTransactionCount",
        "eth_getTransactionReceipt",
        "eth_maxPriorityFeePerGas",
        "eth_sendRawTransaction",
        "net_version",
    }
)


def rpc_error(request_id: Any, code: int, message: str) -> dict[str, Any]:
    """A JSON-RPC 2.0 error answer."""
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}


def forward(provider: BaseProvider, calls: list[Any]) -> list[dict[str, Any]]:
    """One answer per call, in order: the chain's, or a JSON-RPC error for a malformed or refused call."""
    return [_one(provider, call) for call in calls]


def _one(provider: BaseProvider, call: Any) -> dict[str, Any]:
    if not isinstance(call, dict) or not isinstance(call.get("method"), str):
        return rpc_error(None, -32600, "invalid request: an object with a method is needed")
    request_id, method = call.get("id"), call["method"]
    if method not in ALLOWED:
        return rpc_error(request_id, -32601, f"method {method!r} is not relayed by this node")
    try:
        answer = cast(
            dict[str, Any], dict(provider.make_request(RPCEndpoint(method), call.get("params", [])))
        )
    except Exception as exc:  # the chain node is down or answered garbage: say so, in JSON-RPC
        return rpc_error(request_id, -32603, f"the node's chain did not answer: {type(exc).__name__}")
    answer["id"] = request_id
    return answer
