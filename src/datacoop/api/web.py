"""The web app: its built files served at ``/`` and the development wallet's keys.

``make web`` builds ``web/`` (Vite) into the package's ``web_dist`` folder. Any GET outside ``/v1``
that names no built file gets ``index.html`` (the app routes in the browser); a node whose build
is missing answers with a page saying how to build it. ``GET /v1/dev/accounts`` hands the funded
development keys to the browser's development wallet, and only on a development node that has them.
"""

from __future__ import annotations

import html
import mimetypes
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from datacoop.api.deps import NodeDep
from datacoop.api.methods import method_not_allowed
from datacoop.errors import NotFound

__all__ = ["DEFAULT_DIST", "dev_router", "mount_web"]

DEFAULT_DIST = Path(__file__).resolve().parent.parent / "web_dist"
API_PREFIXES = ("v1", "openapi.json", "docs", "redoc")
# hashed bundles never change under one name; everything else is looked up again each time
IMMUTABLE = "public, max-age=31536000, immutable"

dev_router = APIRouter(prefix="/dev", tags=["dev"])


@dev_router.get("/accounts")
def dev_accounts(node: NodeDep) -> list[dict[str, Any]]:
    """The funded development keys (development nodes only; public by design, never for real value)."""
    if node.settings.environment != "development" or not node.dev_accounts:
        raise NotFound("development accounts exist only on a development node with dev_accounts > 0")
    return [{"address": a.address, "private_key": "0x" + bytes(a.key).hex()} for a in node.dev_accounts]


_MISSING = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>DataCoop: web app not built</title></head>
<body style="font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem">
<h1>The DataCoop web app is not built</h1>
<p>This node serves the API at <a href="/docs">/docs</a>, but found no built web app in
<code>{dist}</code>.</p>
<p>Build it (Node.js 20.19+ and npm) from the repository root, then reload this page:</p>
<pre>make web</pre>
<p>or by hand: <code>npm --prefix web ci &amp;&amp; npm --prefix web run build</code>.</p>
</body></html>
"""


def _inside(root: Path, candidate: Path) -> bool:
    try:
        candidate.relative_to(root)
    except ValueError:
        return False
    return True


def mount_web(app: FastAPI, dist: Path | None = None) -> None:
    """Serve the built app at ``/`` (after every API route: those match first)."""
    app.state.web_dist = dist or DEFAULT_DIST

    @app.get("/{path:path}", include_in_schema=False)
    def web(request: Request, path: str) -> Response:
        if path.split("/", 1)[0] in API_PREFIXES:
            refusal = method_not_allowed(request.app, "/" + path)  # a POST-only API path, say
            if refusal is not None:
                raise refusal
            raise NotFound(f"no API route at /{path}")
        root = Path(request.app.state.web_dist).resolve()
        index = root / "index.html"
        if not index.is_file():
            page = _MISSING.format(dist=html.escape(str(root)))
            return HTMLResponse(page, status_code=503, headers={"Cache-Control": "no-store"})
        if path:
            wanted = (root / path).resolve()
            if _inside(root, wanted) and wanted.is_file():
                media = mimetypes.guess_type(wanted.name)[0] or "application/octet-stream"
                cache = IMMUTABLE if path.startswith("assets/") else "no-cache"
                return FileResponse(wanted, media_type=media, headers={"Cache-Control": cache})
            if "." in path.rsplit("/", 1)[-1]:
                raise NotFound(f"no file /{path} in the web app")
        return FileResponse(index, media_type="text/html", headers={"Cache-Control": "no-cache"})
