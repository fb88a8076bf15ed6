"""Which methods a path answers, for ``405 Method Not Allowed`` and its ``Allow`` header (RFC 9110 §15.5.6).

Starlette names only the first route whose path matched (``/v1/tasks`` has a GET and a POST route,
so an OPTIONS got ``Allow: POST``), and the web app's catch-all answers a GET on any path, so a GET
on a POST-only API path was a 404. Both answers come from here instead: every API route whose path
matches, together: the methods the OpenAPI document lists for that path.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.routing import compile_path

__all__ = ["allowed_methods", "method_not_allowed"]


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """The methods documented for every path template that matches ``path``, sorted."""
    methods: set[str] = set()
    for template, operations in app.openapi()["paths"].items():
        if compile_path(template)[0].match(path):
            methods |= {method.upper() for method in operations}
    return sorted(methods)


def method_not_allowed(app: FastAPI, path: str) -> HTTPException | None:
    """A 405 naming what ``path`` allows, or None when no API route has that path."""
    allowed = allowed_methods(app, path)
    if not allowed:
        return None
    detail = f"{path} answers {', '.join(allowed)} only"
    return HTTPException(405, detail=detail, headers={"Allow": ", ".join(allowed)})
