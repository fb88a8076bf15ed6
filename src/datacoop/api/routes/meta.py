"""Health and the EIP-712 definitions wallets sign against."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from datacoop.api.deps import NodeDep
from datacoop.domain.signing import typed_data_json

router = APIRouter(tags=["meta"])


@router.get("/health")
def health(node: NodeDep) -> JSONResponse:
    """Database, store and chain status; 503 when a configured part is down."""
    report = node.health.check()
    return JSONResponse(report, status_code=200 if report["status"] == "ok" else 503)


@router.get("/eip712")
def eip712(node: NodeDep) -> dict[str, Any]:
    """The EIP-712 domain and types of every message DataCoop asks a wallet to sign."""
    return typed_data_json(node.eip712)
