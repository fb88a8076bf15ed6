"""Request bodies past their route's limit are answered in the API's error shape.

Every ``/v1`` route reads its body under a limit (``max_request_body_bytes``, or the
route's own: 256 KiB for the chain relay, none for blob uploads, which stream into the
store under ``max_blob_bytes``). Starlette stops reading at the limit; where a declared
``Content-Length`` is already past it, Starlette answers a plain-text 413 itself. This
middleware turns that answer into ``{"error": {"code": "too_large", ...}}`` naming the limit.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from datacoop.api.errors import too_large_response

__all__ = ["JsonTooLarge"]


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
