"""Rate limits on sign-in, uploads and submissions: 429 with Retry-After and the limit named.

Counters live in the database, so two API processes over one database share them
(here: two apps built on two nodes over the same database).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from tests.conftest import ManualClock
from tests.unit.api.test_auth import _signed

from datacoop.api.app import create_app
from datacoop.app import Node, build_node
from datacoop.client import DataCoopClient
from datacoop.db import Database
from datacoop.errors import RateLimited
from datacoop.settings import Settings
from datacoop.tasks.schemas import TaskPublic


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "node",
        chain="off",
        rate_limit_sign_in_per_address=3,
        rate_limit_uploads_per_address=3,
        rate_limit_submissions_per_address=2,
    )


@pytest.fixture
def second_api(settings: Settings, db: Database, clock: ManualClock) -> Iterator[TestClient]:
    """Another API process over the same database."""
    other: Node = build_node(settings, db=db, clock=clock, migrate=False, with_chain=False)
    with TestClient(create_app(other), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(autouse=True)
def _one_window(api: TestClient, clock: ManualClock) -> None:
    """Each test runs inside one fixed window (the clock moves only when a test moves it)."""
    api.app.state.rate_limits.clock = clock  # type: ignore[attr-defined]


def _assert_limited(response: object, name: str, limit: int) -> None:
    r = response
    assert r.status_code == 429, r.text  # type: ignore[attr-defined]
    error = r.json()["error"]  # type: ignore[attr-defined]
    assert (error["code"], error["field"], error["limit"]) == ("rate_limited", name, limit)
    assert f"at most {limit} requests per 60 s" in error["message"]
    assert 1 <= int(r.headers["Retry-After"]) <= 60  # type: ignore[attr-defined]


def test_sign_in_nonces_are_limited_per_client_across_api_processes(
    api: TestClient, second_api: TestClient, clock: ManualClock
) -> None:
    # Prepare: one fixed window for the whole burst
    second_api.app.state.rate_limits.clock = clock  # type: ignore[attr-defined]
    # Execute: the default, 60 a minute from one client, spread over two processes
    answers = [(api if i % 2 else second_api).get("/v1/auth/nonce") for i in range(60)]
    refused = second_api.get("/v1/auth/nonce")
    # Assert
    assert {r.status_code for r in answers} == {200}
    _assert_limited(refused, "sign_in", 60)
    assert "client testclient" in refused.json()["error"]["message"]


def test_a_new_window_serves_again(api: TestClient, clock: ManualClock) -> None:
    for _ in range(60):
        api.get("/v1/auth/nonce")
    assert api.get("/v1/auth/nonce").status_code == 429
    clock.advance(seconds=60)
    assert api.get("/v1/auth/nonce").status_code == 200


def test_sign_ins_are_limited_per_proven_address(
    api: TestClient, alice: LocalAccount, bob: LocalAccount
) -> None:
    client = DataCoopClient(account=alice, http=api)
    for _ in range(3):
        client.login()
    with pytest.raises(RateLimited) as refused:
        client.login()
    assert refused.value.field == "sign_in" and refused.value.limit == 3
    assert alice.address.lower() in refused.value.message
    DataCoopClient(account=bob, http=api).login()  # another address from the same client still signs in


def test_forged_sign_ins_do_not_spend_the_named_address_budget(
    api: TestClient, alice: LocalAccount, bob: LocalAccount
) -> None:
    clock = ManualClock()
    for _ in range(5):
        body = _signed(api, alice, clock)
        body["signature"] = _signed(api, bob, clock)["signature"]  # names alice, signed by bob
        assert api.post("/v1/auth/siwe", json=body).status_code == 401
    assert api.post("/v1/auth/siwe", json=_signed(api, alice, clock)).status_code == 200


def test_uploads_are_limited_per_address_not_per_neighbour(
    contributor: DataCoopClient, requester: DataCoopClient
) -> None:
    for i in range(3):
        contributor.upload(f"photo {i}".encode())
    with pytest.raises(RateLimited) as refused:
        contributor.upload(b"one too many")
    assert (refused.value.field, refused.value.limit) == ("uploads", 3)
    requester.upload(b"another address, same client")


def test_submissions_are_limited_per_address(contributor: DataCoopClient, task: TaskPublic) -> None:
    cids = [contributor.upload(f"photo {i}".encode()).cid for i in range(3)]
    for cid in cids[:2]:
        contributor.submit(task.id, cid, "KE")
    with pytest.raises(RateLimited) as refused:
        contributor.submit(task.id, cids[2], "KE")
    assert (refused.value.field, refused.value.limit) == ("submissions", 2)
    assert len(contributor.my_submissions()) == 2


def test_zero_switches_a_counter_off(tmp_path: Path, db: Database, clock: ManualClock) -> None:
    settings = Settings(data_dir=tmp_path / "n", chain="off", rate_limit_sign_in_per_client=0)
    node = build_node(settings, db=db, clock=clock, migrate=False, with_chain=False)
    with TestClient(create_app(node), raise_server_exceptions=False) as client:
        assert {client.get("/v1/auth/nonce").status_code for _ in range(70)} == {200}
