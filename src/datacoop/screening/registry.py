"""Finding stages: the ``datacoop.stages`` entry-point group, built-ins included."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from importlib.metadata import entry_points

from datacoop.errors import InvalidInput, Unavailable, did_you_mean
from datacoop.screening.base import Stage
from datacoop.tasks.rules import Modality

__all__ = ["ENTRY_POINT_GROUP", "discover", "stages_for"]

ENTRY_POINT_GROUP = "datacoop.stages"


@functools.cache
def discover() -> dict[str, type[Stage]]:
    """Every installed stage class by name (DataCoop's own are registered the same way).

    Loaded once per process: importing stages pulls in heavy libraries.
    """
    found: dict[str, type[Stage]] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            cls = ep.load()
        except ImportError as exc:
            # A stage that cannot load must stop the node, not silently skip a check (PII, bombs …).
            raise Unavailable(
                f"pre-screening stage {ep.name!r} cannot load ({exc}); install DataCoop with its "
                "pipeline extras (pip install 'datacoop[pipeline,models]'), or leave the stage out "
                "with DATACOOP_STAGES",
                field="stages",
            ) from exc
        found[cls.name] = cls
    return found


def stages_for(modality: Modality, *, only: Iterable[str] | None = None) -> list[type[Stage]]:
    """The stages that apply to a modality, cheapest first; ``only`` restricts them by name."""
    available = dict(discover())
    if only is not None:
        names = list(only)
        for name in names:
            if name not in available:
                raise InvalidInput(f"unknown stage {name!r}.{did_you_mean(name, available)}", field="stages")
        available = {n: available[n] for n in names}
    chosen = [cls for cls in available.values() if modality in cls.modalities]
    return sorted(chosen, key=lambda cls: (cls.cost, cls.name))
