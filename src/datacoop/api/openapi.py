"""``/openapi.json`` with exact integer bounds.

FastAPI passes the document through its own OpenAPI model, whose ``maximum`` and ``minimum`` are
floats: a body's largest id, 2**63-1, came out as 9.223372036854776e18 (2**63, one past it) and
every uint256's 2**256 as 1.157920892373162e77 (past it by about 10**61). Clients generated from the
document, and schemathesis, send those values and are refused. Pydantic's own schema of each
component still has the exact integers; they are put back where FastAPI rounded them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode

__all__ = ["NOTHING_NEW", "binary", "install_exact_openapi"]

BOUNDS = frozenset({"maximum", "minimum", "exclusiveMaximum", "exclusiveMinimum"})
NOTHING_NEW: dict[str, Any] = {"description": "nothing new: no body"}
"""The 204 of an operator's round (an epoch, a royalty round) when nothing is owed since the last one."""


def binary(*media_types: str, description: str) -> dict[str, Any]:
    """An OpenAPI response whose body is bytes of one of ``media_types`` (FastAPI would say JSON)."""
    schema = {"type": "string", "format": "binary"}
    return {"description": description, "content": {media: {"schema": schema} for media in media_types}}


def _models() -> dict[str, type[BaseModel]]:
    """Every loaded pydantic model by class name (the first of a name: a wrong one changes nothing)."""
    found: dict[str, type[BaseModel]] = {}
    stack: list[type[BaseModel]] = [BaseModel]
    while stack:
        for sub in stack.pop().__subclasses__():
            found.setdefault(sub.__name__, sub)
            stack.append(sub)
    return found


def _rounds_to(bound: Any, value: float) -> bool:
    return isinstance(bound, int) and not isinstance(bound, bool) and float(bound) == value


def _restore(rounded: Any, exact: Any) -> None:
    """Copy each integer bound of ``exact`` over the float FastAPI rounded it to, in place."""
    if isinstance(rounded, dict) and isinstance(exact, dict):
        for key, value in rounded.items():
            bound = exact.get(key)
            if key in BOUNDS and isinstance(value, float) and _rounds_to(bound, value):
                rounded[key] = bound
            else:
                _restore(value, bound)
    elif isinstance(rounded, list) and isinstance(exact, list) and len(rounded) == len(exact):
        for item, exact_item in zip(rounded, exact, strict=True):
            _restore(item, exact_item)


def exact_bounds(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with its component schemas' integer bounds as pydantic wrote them."""
    models = _models()
    for name, schema in document.get("components", {}).get("schemas", {}).items():
        base, _, side = name.partition("-")  # FastAPI names split models "X-Input" and "X-Output"
        model = models.get(base)
        if model is not None:
            mode: JsonSchemaMode = "serialization" if side == "Output" else "validation"
            _restore(schema, model.model_json_schema(mode=mode))
    return document


def install_exact_openapi(app: FastAPI) -> None:
    """Serve FastAPI's document with :func:`exact_bounds` applied (once per generated document)."""
    generate: Callable[[], dict[str, Any]] = app.openapi
    fixed: list[int] = []

    def openapi() -> dict[str, Any]:
        document = generate()
        if id(document) not in fixed:  # FastAPI caches the document; fix each one it builds once
            fixed[:] = [id(exact_bounds(document))]
        return document

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to change it
