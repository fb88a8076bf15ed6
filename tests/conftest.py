"""Fixtures shared by every test: databases (SQLite and PostgreSQL), a node, an API client, accounts.

The ``db`` fixture runs each test that uses it twice: on a SQLite file and on a
fresh schema of the PostgreSQL server at ``DATACOOP_TEST_POSTGRES_URL``
(default: the machine's 127.0.0.1:5432 database ``test``). Where no server
answers the PostgreSQL half is skipped, unless ``DATACOOP_REQUIRE_POSTGRES=1``
(CI sets it) makes that a failure.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from datacoop.api.app import create_app
from datacoop.app import Node, build_node
from datacoop.client import DataCoopClient
from datacoop.db import Database
from datacoop.settings import Settings
from datacoop.tasks.schemas import TaskPublic

PG_URL = os.environ.get("DATACOOP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REPO = Path(__file__).resolve().parents[1]


class ManualClock:
    """A clock the test moves by hand (time below the services under test)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


def _postgres_available() -> str | None:
    try:
        engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # any failure means "no server here"
        return f"{type(exc).__name__}: {exc}"
    return None


@pytest.fixture(scope="session")
def postgres_url() -> str:
    problem = _postgres_available()
    if problem:
        if os.environ.get("DATACOOP_REQUIRE_POSTGRES") == "1":
            pytest.fail(
                f"PostgreSQL is required (DATACOOP_REQUIRE_POSTGRES=1) but {PG_URL} failed: {problem}"
            )
        pytest.skip(f"no PostgreSQL at {PG_URL}: {problem}")
    return PG_URL


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty database: a SQLite file, or a fresh PostgreSQL schema dropped afterwards."""
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'test.db'}")
        database.migrate()
        yield database
        database.dispose()
        return
    url = request.getfixturevalue("postgres_url")
    schema = f"t_{secrets.token_hex(6)}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    database = Database(url, schema=schema)
    try:
        database.migrate()
        yield database
    finally:
        database.dispose()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "node", chain="off")


FAST_STAGES = ("size", "duplicates")  # the cheap stages, for tests of a service rather than of its stages


def fast_settings() -> Any:
    """A ``settings`` fixture whose node runs only :data:`FAST_STAGES`, for a folder of service tests
    (the service is under test there, not the stages): its conftest says ``settings = fast_settings()``."""

    @pytest.fixture(name="settings")
    def narrowed(tmp_path: Path) -> Settings:
        return Settings(data_dir=tmp_path / "node", chain="off", stages=list(FAST_STAGES))

    return narrowed


@pytest.fixture
def node(settings: Settings, db: Database, clock: ManualClock) -> Iterator[Node]:
    built = build_node(settings, db=db, clock=clock, migrate=False, with_chain=False)
    yield built


@pytest.fixture
def api(node: Node) -> Iterator[TestClient]:
    with TestClient(create_app(node), raise_server_exceptions=False) as client:
        yield client


def make_account(seed: int) -> LocalAccount:
    acct: LocalAccount = Account.from_key(seed.to_bytes(32, "big"))
    return acct


@pytest.fixture
def alice() -> LocalAccount:
    return make_account(0xA11CE)


@pytest.fixture
def bob() -> LocalAccount:
    return make_account(0xB0B)


@pytest.fixture
def sdk(api: TestClient):  # type: ignore[no-untyped-def]
    """Build an SDK client signed in as an account, over the in-process app."""

    def signed_in(account: LocalAccount) -> DataCoopClient:
        client = DataCoopClient(account=account, http=api)
        client.login()
        return client

    return signed_in


@pytest.fixture
def requester(sdk: Any, alice: LocalAccount) -> DataCoopClient:
    client: DataCoopClient = sdk(alice)
    return client


@pytest.fixture
def contributor(sdk: Any, bob: LocalAccount) -> DataCoopClient:
    client: DataCoopClient = sdk(bob)
    return client


@pytest.fixture
def task(requester: DataCoopClient) -> TaskPublic:
    from tests.unit.api.conftest import task_body

    return requester.create_task(task_body())


@pytest.fixture
def stakes(node: Node) -> Any:
    """Validators' stakes as the node's review service reads them, held in memory (the chain is below
    the layer under test; tests/integration/chain/test_validator_stake.py reads the real contract)."""
    import random

    from datacoop.review.stakes import InMemoryStakes

    fake = InMemoryStakes()
    node.review.stakes = fake
    node.review.rng = random.Random(5)  # reproducible draws
    return fake
