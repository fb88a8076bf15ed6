"""The web app's API types are generated, never hand-written, and never stale.

``web/openapi.json`` is what this version's ``/openapi.json`` serves, and ``web/src/api.gen.ts`` is
what openapi-typescript (pinned in ``web/package.json``) makes of it. Regenerate both with
``make web-types`` after changing a route or a schema.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from datacoop.cli.openapi import openapi_document

WEB = Path(__file__).resolve().parents[3] / "web"
GENERATOR = WEB / "node_modules" / ".bin" / "openapi-typescript"
STALE = "stale: run `make web-types` and commit web/openapi.json and web/src/api.gen.ts"


def test_committed_openapi_document_is_what_the_api_serves() -> None:
    committed = json.loads((WEB / "openapi.json").read_text(encoding="utf-8"))
    assert committed == openapi_document(), f"web/openapi.json is {STALE}"


def test_the_claims_route_documents_its_shape() -> None:
    schema = openapi_document()["paths"]["/v1/claims/{address}"]["get"]["responses"]["200"]
    items = schema["content"]["application/json"]["schema"]["items"]
    assert items == {"$ref": "#/components/schemas/ClaimPublic"}


@pytest.mark.skipif(not GENERATOR.exists(), reason="web/node_modules is not installed (make web)")
def test_typescript_types_are_generated_from_the_committed_document() -> None:
    generated = subprocess.run(
        [str(GENERATOR), str(WEB / "openapi.json")], capture_output=True, check=True, timeout=120, cwd=WEB
    ).stdout.decode()
    assert generated == (WEB / "src" / "api.gen.ts").read_text(encoding="utf-8"), (
        f"web/src/api.gen.ts is {STALE}"
    )


def test_hand_written_types_only_name_generated_shapes() -> None:
    text = (WEB / "src" / "types.ts").read_text(encoding="utf-8")
    assert 'from "./api.gen"' in text
    assert "= {" not in text.replace("& { proof", ""), "types.ts declares an object shape by hand"
