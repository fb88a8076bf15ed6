"""What GET /v1/health reports: each backing part, and whether the node is usable."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from datacoop import __version__
from datacoop.errors import DataCoopError

__all__ = ["HealthService"]

Probe = Callable[[], dict[str, Any]]


class HealthService:
    """Runs each named probe; a probe that raises marks its part (and the node) as down."""

    def __init__(self, probes: dict[str, Probe]) -> None:
        self._probes = probes

    def check(self) -> dict[str, Any]:
        parts: dict[str, Any] = {}
        for name, probe in self._probes.items():
            try:
                parts[name] = {"status": "ok", **probe()}
            except DataCoopError as exc:
                parts[name] = {"status": "down", "error": exc.message}
            except Exception as exc:  # a probe must report, never take the health endpoint down
                parts[name] = {"status": "down", "error": f"{type(exc).__name__}: {exc}"}
        # a part that is deliberately absent ("not_configured") does not make the node unhealthy
        ok = all(p["status"] in ("ok", "not_configured") for p in parts.values())
        return {"status": "ok" if ok else "degraded", "version": __version__, **parts}
