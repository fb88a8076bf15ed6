"""The node's chain, relayed for browsers: ``POST /v1/chain/rpc`` speaks JSON-RPC to the node's EVM node.

A phone that reaches the node may not reach its chain (an embedded anvil listens on the
node's loopback), and a browser on another origin would need CORS from it. What is
forwarded, and what refused, is the chain adapter's rule (:mod:`datacoop.chain.browser_rpc`);
this route parses and bounds the body.

Anyone may call it, so the body is read under a route limit of 256 KiB (413 as soon as
more arrives or a larger ``Content-Length`` is declared: never read further), and JSON
with ``NaN``/``Infinity`` or nesting deeper than any JSON-RPC call needs is refused
with a JSON-RPC error before it is parsed into Python objects.
"""

from __future__ import annotations

import json
import math
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from datacoop.api.body_limit import JsonDepth, JsonTooDeep
from datacoop.api.deps import NodeDep
from datacoop.errors import Unavailable

router = APIRouter(prefix="/chain", tags=["chain"])

MAX_BODY_BYTES = 256 * 1024
MAX_BATCH = 20
MAX_DEPTH = 32  # eth_getLogs filters, the deepest a wallet sends, nest 4 levels


class _NotJson(ValueError):
    pass


def _rpc_error(request_id: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}


def _constant(name: str) -> Any:
    raise _NotJson(f"{name} is not JSON")


def _number(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotJson(f"{text} does not fit a double")
    return value


def _parse(body: bytes) -> Any:
    """The JSON value of ``body``; _NotJson (a ValueError) for NaN, Infinity or too deep a nesting."""
    try:
        JsonDepth(MAX_DEPTH).feed(body)
    except JsonTooDeep as exc:
        raise _NotJson(exc.detail) from None
    return json.loads(body, parse_constant=_constant, parse_float=_number)


@router.post("/rpc", max_body_size=MAX_BODY_BYTES)
async def rpc(node: NodeDep, request: Request) -> JSONResponse:
    """JSON-RPC 2.0 (single or batch of up to 20) relayed to the node's chain; see the module's notes."""
    if node.chain is None:
        raise Unavailable("this node runs without a chain (chain = 'off')", field="chain")
    try:
        body = await request.body()  # the route's limit stops the stream at MAX_BODY_BYTES (413)
        payload = _parse(body)
    except JsonTooDeep as exc:  # the app's guard stopped the stream: still a JSON-RPC answer
        return JSONResponse(_rpc_error(None, -32700, f"parse error: {exc.detail}"))
    except _NotJson as exc:
        return JSONResponse(_rpc_error(None, -32700, f"parse error: {exc}"))
    except ValueError:
        return JSONResponse(_rpc_error(None, -32700, "parse error: the body is not JSON"))
    calls = payload if isinstance(payload, list) else [payload]
    if not calls or len(calls) > MAX_BATCH:
        return JSONResponse(_rpc_error(None, -32600, f"a batch holds 1 to {MAX_BATCH} calls"))
    answers = await run_in_threadpool(node.chain.forward_rpc, calls)
    return JSONResponse(answers if isinstance(payload, list) else answers[0])
