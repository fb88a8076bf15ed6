"""A method a path does not answer is a 405 whose Allow header names every method it does answer."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("OPTIONS", "/v1/tasks", "GET, POST"),  # two routes share the path: both are named
        ("DELETE", "/v1/tasks/1", "GET"),
        ("GET", "/v1/chain/rpc", "POST"),  # not the web app's 404: the path exists, for POST
        ("PUT", "/v1/datasets/1/versions", "POST"),
    ],
)
def test_unsupported_method_is_405_naming_every_allowed_method(
    api: TestClient, method: str, path: str, allow: str
) -> None:
    answer = api.request(method, path)
    assert answer.status_code == 405
    assert answer.headers["allow"] == allow
    assert answer.json()["error"]["code"] == "method_not_allowed"


def test_unknown_api_path_is_still_404(api: TestClient) -> None:
    answer = api.get("/v1/no-such-route")
    assert answer.status_code == 404
    assert "allow" not in answer.headers
