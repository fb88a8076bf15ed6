"""Heavy libraries load on first use; a missing one still fails when the stage is registered.

Every built-in stage class is loaded when the node starts (the registry checks they all
load), including in the API process, which never screens anything. numpy, OpenCV,
ImageHash (with SciPy), mutagen and presidio (with spaCy, and torch where transformers is
installed) would add 120–450 MiB to it, so the modules that use them import them inside
the functions that need them. :func:`require` keeps the start-up check honest: it looks
the libraries up without importing them.
"""

from __future__ import annotations

import importlib.util

__all__ = ["require"]


def require(stage: str, *modules: str) -> None:
    """Raise ImportError, naming the extra to install, if any of ``modules`` is not installed."""
    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if missing:
        raise ImportError(
            f"the {stage} stage needs {', '.join(missing)}: install DataCoop with its pipeline extra "
            "(pip install 'datacoop[pipeline]')"
        )
