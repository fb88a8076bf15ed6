"""`datacoop openapi`: print the API's OpenAPI document without starting a node.

The document is what ``GET /openapi.json`` of this version serves with default settings. The web app's
TypeScript types are generated from it (``make web-types``; ``web/openapi.json`` →
``web/src/api.gen.ts``), and a test fails when the committed copy is stale.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from datacoop.cli._common import reports_errors

__all__ = ["openapi_document", "register"]


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document of a node on default settings (a throwaway data directory, no chain)."""
    from datacoop.api.app import create_app
    from datacoop.app import build_node
    from datacoop.settings import Settings

    with tempfile.TemporaryDirectory(prefix="datacoop-openapi-") as tmp:
        settings = Settings(data_dir=Path(tmp), chain="off", dev_accounts=0)
        node = build_node(settings, with_chain=False, check_stages=False)
        try:
            return create_app(node).openapi()
        finally:
            node.close()


def register(app: typer.Typer) -> None:
    @app.command("openapi")
    @reports_errors
    def openapi(
        output: Annotated[Path | None, typer.Option("--output", "-o", help="write to this file")] = None,
    ) -> None:
        """Print the REST API's OpenAPI 3.1 document (what /openapi.json serves)."""
        text = json.dumps(openapi_document(), indent=2, ensure_ascii=False) + "\n"
        if output is None:
            typer.echo(text, nl=False)
        else:
            output.write_text(text, encoding="utf-8")
