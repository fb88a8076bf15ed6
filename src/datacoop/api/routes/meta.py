"""Health and the EIP-712 definitions wallets sign against."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from datacoop.api.deps import OPTIONAL_AUTH, Eip712Dep, NodeDep, OptionalCaller, is_operator
from datacoop.errors import Unavailable
from datacoop.health import READY_PARTS, LivenessPublic, ReadinessPublic, public_report
from datacoop.identity.eip712 import typed_data_json
from datacoop.identity.schemas import Eip712Public

router = APIRouter(tags=["meta"])


@router.get("/health", openapi_extra=OPTIONAL_AUTH)
def health(node: NodeDep, who: OptionalCaller) -> JSONResponse:
    """Database, store and chain status; 503 when a configured part is down.

    Anyone sees each part's status and the chain's public facts; the operator also sees the details
    (paths, URLs, errors).
    """
    report = node.health.check()
    shown = report if is_operator(node, who) else public_report(report)
    return JSONResponse(shown, status_code=200 if report["status"] == "ok" else 503)


@router.get("/health/live", response_model=LivenessPublic)
def live() -> LivenessPublic:
    """Liveness: the process answers requests. Touches nothing else; restart the process when it fails."""
    return LivenessPublic(status="ok")


@router.get("/health/ready", response_model=ReadinessPublic)
def ready(node: NodeDep) -> ReadinessPublic:
    """Readiness: the database and the blob store answer, so requests can be taken. Otherwise 503 (take this
    process out of the load balancer, don't restart it), the error naming the part that is down. The
    chain is left out: the outbox keeps what waits on it."""
    report = node.health.ready()
    parts = {name: part["status"] for name, part in report.items() if name in READY_PARTS}
    if down := [name for name, status in parts.items() if status != "ok"]:
        raise Unavailable(f"not ready: the {' and the '.join(down)} did not answer", field=down[0])
    return ReadinessPublic(status="ok", parts=parts)


@router.get("/eip712", response_model=Eip712Public)
def eip712(domain: Eip712Dep) -> dict[str, Any]:
    """The EIP-712 domain and types of every message DataCoop asks a wallet to sign."""
    return typed_data_json(domain)
