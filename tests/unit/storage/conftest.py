"""Blob store fixtures: every conformance test runs on a local directory and on S3 over HTTP.

The S3 half talks to moto's S3-compatible server, started once per session as a
real subprocess on a free loopback port, so requests cross a socket exactly as
they would against MinIO or AWS. Dummy credentials are set in the environment of
each S3 test (and of the server) only; nothing reads or writes ``~/.aws``.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from datacoop.storage import BlobStore, LocalBlobStore

MiB = 1 << 20
PART_SIZE = 5 * MiB  # S3's smallest part, so a multi-MiB test blob goes up in several parts
DUMMY_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
# Point the AWS config files somewhere empty so a developer's profile never leaks into a test.
NO_AWS_FILES = ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")
CLEARED = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _answers(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        conn.request("GET", "/")
        conn.getresponse().read()
    except OSError:
        return False
    finally:
        conn.close()
    return True


def _wait_until_up(proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"moto server exited with {proc.returncode}:\n{log.read_text()}")
        if _answers(port):
            return
        time.sleep(0.1)
    pytest.fail(f"moto server did not answer on port {port} within 30 s:\n{log.read_text()}")


def _aws_vars(empty_dir: Path) -> dict[str, str]:
    return {**DUMMY_AWS, **{name: str(empty_dir / "absent") for name in NO_AWS_FILES}}


def _server_env(empty_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    return {**env, **_aws_vars(empty_dir)}


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a moto S3 server running in a subprocess for the whole session."""
    workdir = tmp_path_factory.mktemp("moto")
    log = workdir / "server.log"
    port = _free_port()
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=_server_env(workdir))
    try:
        _wait_until_up(proc, port, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Dummy AWS credentials for this test only."""
    for name in CLEARED:
        monkeypatch.delenv(name, raising=False)
    for name, value in _aws_vars(tmp_path).items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def s3_client(s3_endpoint: str, aws_env: None) -> Any:
    """A plain boto3 client on the moto server, for setting up and inspecting buckets."""
    import boto3

    return boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")


@pytest.fixture
def s3_bucket(s3_client: Any) -> str:
    """A fresh, empty bucket."""
    name = f"test-{uuid.uuid4().hex[:16]}"
    s3_client.create_bucket(Bucket=name)
    return name


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    """A fresh, empty blob store: a local directory, then an S3 bucket."""
    if request.param == "local":
        return LocalBlobStore(tmp_path / "blobs")
    from datacoop.storage.s3 import S3BlobStore

    return S3BlobStore(
        request.getfixturevalue("s3_bucket"),
        endpoint_url=request.getfixturevalue("s3_endpoint"),
        spool_dir=tmp_path / "spool",
        part_size=PART_SIZE,
    )


@pytest.fixture
def local_store(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs")
