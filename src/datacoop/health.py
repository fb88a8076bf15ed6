"""What GET /v1/health reports: each backing part, and whether the node is usable.

Anyone may ask whether the node is up; only the operator reads how it is built. The public
report keeps each part's status and, for the chain, what every wallet needs anyway (the chain id
and the contract addresses, public on chain); paths, URLs, bucket names and error texts (which
can name them) are for the operator's eyes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel

from datacoop import __version__
from datacoop.errors import DataCoopError

__all__ = [
    "PUBLIC_DETAILS",
    "READY_PARTS",
    "HealthService",
    "LivenessPublic",
    "ReadinessPublic",
    "public_report",
]

Probe = Callable[[], dict[str, Any]]

PUBLIC_DETAILS: dict[str, frozenset[str]] = {
    "chain": frozenset(
        {"chain_id", "block", "embedded", "token", "escrow", "registry", "market", "staking"}
        | {"vault_blueprint"}
    ),
}
"""Per part, the details an anonymous caller may read besides ``status`` (none where unnamed)."""

READY_PARTS = ("database", "store")
"""What a process needs to take requests: without them nothing is accepted. A chain that is down only
delays what waits on it (the outbox keeps every transaction), so it does not make a process unready."""


class LivenessPublic(BaseModel):
    status: Literal["ok"]


class ReadinessPublic(BaseModel):
    status: Literal["ok"]
    parts: dict[str, str]  # each probed part's status


class HealthService:
    """Runs each named probe; a probe that raises marks its part (and the node) as down."""

    def __init__(self, probes: dict[str, Probe]) -> None:
        self._probes = probes

    def check(self) -> dict[str, Any]:
        """The full report (the operator's): every part's status and its details."""
        return self._run(self._probes)

    def ready(self) -> dict[str, Any]:
        """Whether this process can take requests: only the :data:`READY_PARTS` are probed."""
        return self._run({name: probe for name, probe in self._probes.items() if name in READY_PARTS})

    @staticmethod
    def _run(probes: dict[str, Probe]) -> dict[str, Any]:
        parts: dict[str, Any] = {}
        for name, probe in probes.items():
            try:
                parts[name] = {"status": "ok", **probe()}
            except DataCoopError as exc:
                parts[name] = {"status": "down", "error": exc.message}
            except Exception as exc:  # a probe must report, never take the health endpoint down
                parts[name] = {"status": "down", "error": f"{type(exc).__name__}: {exc}"}
        # a part that is deliberately absent ("not_configured") does not make the node unhealthy
        ok = all(p["status"] in ("ok", "not_configured") for p in parts.values())
        return {"status": "ok" if ok else "degraded", "version": __version__, **parts}


def public_report(report: dict[str, Any]) -> dict[str, Any]:
    """``report`` as anyone may read it: each part's status and its public details only."""
    public: dict[str, Any] = {"status": report["status"], "version": report["version"]}
    for name, part in report.items():
        if isinstance(part, dict):
            kept = PUBLIC_DETAILS.get(name, frozenset())
            public[name] = {key: value for key, value in part.items() if key == "status" or key in kept}
    return public
