"""The real brokers: Redis at 127.0.0.1:6379 and RabbitMQ at 127.0.0.1:5672, one fresh queue per test.

A broker that does not answer skips its tests with the reason, unless
``DATACOOP_REQUIRE_BROKERS=1`` (CI sets it) makes that a failure. Each test gets
a queue of its own, deleted afterwards with everything Dramatiq kept for it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pika
import pytest
import redis
from tests.integration.broker.support import STAGES

from datacoop.settings import Settings

REDIS_URL = os.environ.get("DATACOOP_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RABBITMQ_URL = os.environ.get("DATACOOP_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
BROKERS = {"redis": REDIS_URL, "rabbitmq": RABBITMQ_URL}


def _problem(url: str) -> str | None:
    try:
        if url.startswith("redis"):
            client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
            client.ping()
            client.close()
        else:
            params = pika.URLParameters(url)
            params.socket_timeout, params.connection_attempts, params.blocked_connection_timeout = 2, 1, 2
            pika.BlockingConnection(params).close()
    except Exception as exc:  # any failure means "no broker here"
        return f"{type(exc).__name__}: {exc}"
    return None


def _require(kind: str) -> str:
    url = BROKERS[kind]
    problem = _problem(url)
    if problem is not None:
        if os.environ.get("DATACOOP_REQUIRE_BROKERS") == "1":
            pytest.fail(f"{kind} is required (DATACOOP_REQUIRE_BROKERS=1) but {url} failed: {problem}")
        pytest.skip(f"no {kind} at {url}: {problem}")
    return url


def _cleanup(url: str, queue: str) -> None:
    if url.startswith("redis"):
        client = redis.Redis.from_url(url)
        keys = [*client.scan_iter(f"datacoop:{queue}*"), *client.scan_iter(f"datacoop:__acks__.*.{queue}*")]
        if keys:
            client.delete(*keys)
        client.close()
    else:
        connection = pika.BlockingConnection(pika.URLParameters(url))
        channel = connection.channel()
        for name in (queue, f"{queue}.DQ", f"{queue}.XQ"):
            channel.queue_delete(name)
        connection.close()


@pytest.fixture(params=[pytest.param(kind, marks=pytest.mark.broker) for kind in BROKERS])
def broker_url(request: pytest.FixtureRequest) -> str:
    """The URL of a reachable broker: each test runs once on Redis and once on RabbitMQ."""
    return _require(str(request.param))


@pytest.fixture
def queue(broker_url: str) -> Iterator[str]:
    name = f"dc_test_{secrets.token_hex(4)}"
    yield name
    _cleanup(broker_url, name)


@pytest.fixture
def broker_env(broker_url: str, queue: str) -> dict[str, str]:
    """The environment a `datacoop worker` subprocess of this test runs with."""
    return {
        "DATACOOP_BROKER_URL": broker_url,
        "DATACOOP_BROKER_QUEUE": queue,
        "DATACOOP_BROKER_HEARTBEAT_SECONDS": "2",  # Redis: a killed worker's messages come back soon
        "DATACOOP_BROKER_MAINTENANCE": "1",  # … at the next broker call after that
        "DATACOOP_BROKER_SWEEP_SECONDS": "3600",  # the broker alone recovers: the sweeper stays out of it
        "DATACOOP_SCREENING_LEASE_SECONDS": "3",
        "DATACOOP_STAGES": '["size", "duplicates"]',
        "DATACOOP_CHAIN": "off",
    }


@pytest.fixture
def broker_settings(tmp_path: Path, broker_env: dict[str, str]) -> Settings:
    """Settings for the test's own node (the publisher), matching its workers' environment."""
    return Settings(
        data_dir=tmp_path / "node",
        chain="off",
        stages=list(STAGES),
        broker_url=broker_env["DATACOOP_BROKER_URL"],
        broker_queue=broker_env["DATACOOP_BROKER_QUEUE"],
        broker_heartbeat_seconds=2,
        broker_maintenance=1.0,
        broker_sweep_seconds=3600,
        screening_lease_seconds=3,
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The shared ``node`` fixture's settings, with the cheap stages (the job path is under test)."""
    return Settings(data_dir=tmp_path / "node", chain="off", stages=list(STAGES))
