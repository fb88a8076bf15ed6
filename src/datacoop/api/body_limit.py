"""Request bodies: past their route's limit, or JSON nested too deep, they are refused in the error shape.

Every ``/v1`` route reads its body under a limit (``max_request_body_bytes``, or the
route's own: 256 KiB for the chain relay, none for blob uploads, which stream into the
store under ``max_blob_bytes``). Starlette stops reading at the limit; where a declared
``Content-Length`` is already past it, Starlette answers a plain-text 413 itself.
:class:`JsonTooLarge` turns that answer into ``{"error": {"code": "too_large", ...}}``.

:class:`JsonDepthGuard` counts the nesting of a JSON body as it streams in and stops it past
:data:`MAX_JSON_DEPTH`: the C JSON parser recurses once per level, and a process whose recursion
limit a library raised (py_ecc sets 100,000) would overflow its stack on ``[[[[…`` instead of
raising RecursionError.
"""

from __future__ import annotations

import re

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from datacoop.api.errors import too_large_response

__all__ = ["MAX_JSON_DEPTH", "JsonDepth", "JsonDepthGuard", "JsonTooDeep", "JsonTooLarge"]

MAX_JSON_DEPTH = 64
_TOKEN = re.compile(rb'\\.|\\\Z|["\[\]{}]', re.S)  # an escape pair, a backslash ending a chunk, or a token


def _plain_413(message: Message) -> bool:
    if message["type"] != "http.response.start" or message["status"] != 413:
        return False
    return Headers(raw=message.get("headers", [])).get("content-type", "").startswith("text/plain")


class JsonTooLarge:
    """ASGI middleware: a plain-text 413 from Starlette's body limit becomes a JSON ``too_large`` error."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        replaced = False

        async def send_json(message: Message) -> None:
            nonlocal replaced
            if _plain_413(message):
                replaced = True
                await too_large_response(scope.get(MAX_BODY_SIZE_SCOPE_KEY))(scope, receive, send)
            elif not replaced:  # the plain body of a replaced answer is dropped
                await send(message)

        await self.app(scope, receive, send_json)


class JsonTooDeep(HTTPException):
    """A JSON body nests arrays and objects deeper than its limit (a 400 naming ``body``)."""

    def __init__(self, limit: int) -> None:
        super().__init__(400, f"JSON arrays and objects nest deeper than {limit} levels")


class JsonDepth:
    """How deep a JSON text nests, fed chunk by chunk (brackets inside strings do not count)."""

    def __init__(self, limit: int = MAX_JSON_DEPTH) -> None:
        self.limit, self.depth, self.deepest = limit, 0, 0
        self._in_string = self._escaped = False

    def feed(self, chunk: bytes) -> None:
        """Scan one more chunk; JsonTooDeep as soon as the nesting passes the limit."""
        start = 1 if self._escaped and chunk else 0  # the chunk before ended inside an escape
        self._escaped = self._escaped and not chunk
        for token in _TOKEN.finditer(chunk, start):
            self._take(token.group())

    def _take(self, token: bytes) -> None:
        if token[:1] == b"\\":
            self._escaped = len(token) == 1 and self._in_string
        elif token == b'"':
            self._in_string = not self._in_string
        elif not self._in_string:
            self.depth += 1 if token in (b"[", b"{") else -1
            self.deepest = max(self.deepest, self.depth)
            if self.depth > self.limit:
                raise JsonTooDeep(self.limit)


def _is_json(scope: Scope) -> bool:
    media = Headers(scope=scope).get("content-type", "").split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")  # what FastAPI parses as JSON


class JsonDepthGuard:
    """ASGI middleware: a JSON request body is scanned as it is read and stopped past MAX_JSON_DEPTH."""

    def __init__(self, app: ASGIApp, *, limit: int = MAX_JSON_DEPTH) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        depth = JsonDepth(self.limit)

        async def scanned() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                depth.feed(message.get("body", b""))
            return message

        await self.app(scope, scanned, send)
