"""The web app's serving (static files, SPA fallback, /v1 untouched) and the dev accounts endpoint."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from fastapi.testclient import TestClient

from datacoop.api.app import create_app
from datacoop.app import Node


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>DataCoop app</title>")
    (root / "assets" / "index-abc123.js").write_text("console.log('app')")
    (tmp_path / "secret.txt").write_text("outside the build")
    return root


@pytest.fixture
def web(node: Node, dist: Path) -> Iterator[TestClient]:
    app = create_app(node)
    app.state.web_dist = dist
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_index_and_assets_are_served(web: TestClient) -> None:
    root = web.get("/")
    assert root.status_code == 200
    assert root.headers["content-type"].startswith("text/html")
    assert "DataCoop app" in root.text
    asset = web.get("/assets/index-abc123.js")
    assert asset.status_code == 200
    assert asset.text == "console.log('app')"
    assert "javascript" in asset.headers["content-type"]
    assert "immutable" in asset.headers["cache-control"]


@pytest.mark.parametrize("path", ["/tasks", "/tasks/12/submit", "/mine"])
def test_app_routes_fall_back_to_index(web: TestClient, path: str) -> None:
    response = web.get(path)
    assert response.status_code == 200
    assert "DataCoop app" in response.text
    assert response.headers["cache-control"] == "no-cache"


def test_missing_files_and_escapes_are_404(web: TestClient) -> None:
    assert web.get("/assets/missing.js").status_code == 404
    assert web.get("/favicon.ico").status_code == 404
    escaped = web.get("/..%2Fsecret.txt")
    assert escaped.status_code == 404
    assert "outside the build" not in escaped.text


def test_v1_is_untouched(web: TestClient) -> None:
    health = web.get("/v1/health")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    unknown = web.get("/v1/no-such-route")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "not_found"
    assert "DataCoop app" not in unknown.text
    assert web.get("/openapi.json").json()["info"]["title"] == "DataCoop"
    assert "/{path}" not in web.get("/openapi.json").json()["paths"]


def test_missing_build_says_how_to_build(node: Node, tmp_path: Path) -> None:
    app = create_app(node)
    app.state.web_dist = tmp_path / "nothing-here"
    with TestClient(app) as client:
        page = client.get("/tasks")
    assert page.status_code == 503
    assert "make web" in page.text
    assert "npm --prefix web ci" in page.text


def test_dev_accounts_in_development(web: TestClient, node: Node) -> None:
    assert node.settings.environment == "development" and node.dev_accounts
    response = web.get("/v1/dev/accounts")
    assert response.status_code == 200
    accounts = response.json()
    assert [a["address"] for a in accounts] == [a.address for a in node.dev_accounts]
    for a in accounts:
        assert Account.from_key(a["private_key"]).address == a["address"]


def test_dev_accounts_404_in_production(node: Node) -> None:
    production = dataclasses.replace(
        node, settings=node.settings.model_copy(update={"environment": "production"})
    )
    with TestClient(create_app(production), raise_server_exceptions=False) as client:
        response = client.get("/v1/dev/accounts")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert "private_key" not in response.text


def test_dev_accounts_404_without_dev_keys(node: Node) -> None:
    keyless = dataclasses.replace(node, dev_accounts=())
    with TestClient(create_app(keyless), raise_server_exceptions=False) as client:
        assert client.get("/v1/dev/accounts").status_code == 404
