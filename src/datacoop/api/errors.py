"""Every error leaves the API as ``{"error": {"code", "message", "field"}}`` with its table status.

A body that is not JSON is a 400; a well-formed request whose fields break a rule
(a type, a range, a length) is a 422 naming the first field at fault and its limit.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY

from datacoop.api.methods import allowed_methods
from datacoop.errors import ERROR_TABLE, DataCoopError, InvalidInput, TooLarge, Unprocessable

__all__ = [
    "ErrorBody",
    "ErrorDetail",
    "error_responses",
    "install_error_handlers",
    "too_large_response",
]

log = logging.getLogger("datacoop.api")
_LIMIT_KEYS = ("le", "lt", "ge", "gt", "max_length", "min_length", "limit_value")


def _respond(exc: DataCoopError) -> JSONResponse:
    status, _exit = ERROR_TABLE.get(type(exc), (exc.http_status, exc.exit_code))
    return JSONResponse(exc.to_dict(), status_code=status, headers=exc.headers() or None)


def _limit(ctx: dict[str, Any]) -> Any:
    for key in _LIMIT_KEYS:
        if key in ctx:
            value = ctx[key]
            return value if isinstance(value, int | float | str) else str(value)
    return None


def _validation_error(exc: RequestValidationError) -> DataCoopError:
    first = exc.errors()[0]
    if first.get("type") == "json_invalid":  # not JSON at all: a syntax error, not a broken rule
        return InvalidInput(f"the body is not valid JSON: {first.get('msg', '')}", field="body")
    where, *loc = [str(p) for p in first.get("loc", ())] or [""]
    if where not in ("body", "query", "path", "header", "cookie"):  # the location, not a field named so
        loc.insert(0, where)
    field = ".".join(loc) or None
    message = f"{field}: {first.get('msg', 'invalid')}" if field else str(first.get("msg", "invalid input"))
    return Unprocessable(message, field=field, limit=_limit(first.get("ctx") or {}))


def too_large_response(limit: object) -> JSONResponse:
    """The 413 of a body past its route's limit (``max_body_size``), naming the limit where it is known."""
    if isinstance(limit, int):
        return _respond(TooLarge("body", limit))
    body = {"error": {"code": TooLarge.code, "message": "the request body is too large", "field": "body"}}
    return JSONResponse(body, status_code=413)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DataCoopError)
    async def _datacoop(_: Request, exc: DataCoopError) -> JSONResponse:
        return _respond(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _respond(_validation_error(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 413:  # the body limit (FastAPI's max_body_size) stopped reading
            return too_large_response(request.scope.get(MAX_BODY_SIZE_SCOPE_KEY))
        if exc.status_code == 400:  # FastAPI could not parse the body (e.g. JSON nested too deep)
            return _respond(InvalidInput(f"body: {exc.detail}", field="body"))
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:  # every method the path answers, not only the first matching route's
            headers = {"Allow": ", ".join(allowed_methods(request.app, request.url.path))}
        body = {"error": {"code": code, "message": str(exc.detail), "field": None}}
        return JSONResponse(body, status_code=exc.status_code, headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        body = {"error": {"code": "internal", "message": "internal error; see the node's log", "field": None}}
        return JSONResponse(body, status_code=500)


class ErrorDetail(BaseModel):
    """What went wrong: a stable code, a sentence a user can act on, the field at fault, the limit."""

    code: str = Field(description="stable and machine-readable, e.g. invalid_input, not_found")
    message: str
    field: str | None = Field(description="the input field at fault (dotted path), if any")
    limit: Any = Field(default=None, description="the limit that was broken; present only when one was")


class ErrorBody(BaseModel):
    """The body of every error answer."""

    error: ErrorDetail


def error_responses() -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for every status an error class maps to, each with the error body."""
    codes: dict[int, list[str]] = {}
    for cls, (status, _exit) in ERROR_TABLE.items():
        codes.setdefault(status, []).append(cls.code)
    return {
        status: {"model": ErrorBody, "description": "an error: " + ", ".join(names)}
        for status, names in sorted(codes.items())
    }
