"""`datacoop backup` and `restore`: a restored node is the same node, or nothing is written."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select, text
from tests.conftest import make_account
from tests.unit.api.conftest import task_body
from typer.testing import CliRunner, Result

from datacoop.api.app import create_app
from datacoop.app import Node, build_node
from datacoop.backup import create_backup, read_backup, restore_blobs, restore_files
from datacoop.cli import app
from datacoop.client import DataCoopClient
from datacoop.db import Database
from datacoop.db.models import Submission
from datacoop.errors import IntegrityError, InvalidInput
from datacoop.settings import Settings


def _cli(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def _fill(node: Node) -> list[str]:
    """A task, three signed submissions through the API, pre-screened; returns the uploaded CIDs."""
    with TestClient(create_app(node)) as http:
        requester = DataCoopClient(account=make_account(0xA11CE), http=http)
        contributor = DataCoopClient(account=make_account(0xB0B), http=http)
        requester.login()
        contributor.login()
        task = requester.create_task(task_body())
        cids = [contributor.upload(f"photo {i} of a mask".encode()).cid for i in range(3)]
        for cid in cids:
            contributor.submit(task.id, cid, "ke")
    while node.screening.work_once("test"):
        pass
    node.audit.record(actor="0xbuyer", action="download", subject="order:1", details={"bytes": 1})
    return cids


@pytest.fixture
def source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, list[str]]]:
    monkeypatch.setenv("DATACOOP_CHAIN", "off")  # the CLI reads its settings from the environment
    monkeypatch.setenv("DATACOOP_STAGES", '["size", "duplicates"]')
    data_dir = tmp_path / "node"
    node = build_node(Settings(data_dir=data_dir), with_chain=False, check_stages=False)
    try:
        cids = _fill(node)
    finally:
        node.close()
    yield data_dir, cids


def test_a_restored_node_holds_the_same_data_and_its_audit_log_verifies(
    source: tuple[Path, list[str]], tmp_path: Path
) -> None:
    # Prepare
    data_dir, cids = source
    # Execute
    backed = _cli("backup", str(tmp_path / "backup"), "--data-dir", str(data_dir))
    restored = _cli("restore", str(tmp_path / "backup"), "--data-dir", str(tmp_path / "restored"))
    verified = _cli("audit", "verify", "--data-dir", str(tmp_path / "restored"))
    # Assert
    assert backed.exit_code == 0, backed.output
    assert restored.exit_code == 0, restored.output
    assert verified.exit_code == 0 and verified.output.startswith("ok:"), verified.output
    assert (tmp_path / "restored" / "download_secret").read_bytes() == (
        data_dir / "download_secret"
    ).read_bytes()
    node = build_node(Settings(data_dir=tmp_path / "restored"), with_chain=False, check_stages=False)
    try:
        with node.db.transaction() as s:
            assert s.scalar(select(func.count()).select_from(Submission)) == 3
        for i, cid in enumerate(cids):
            assert b"".join(node.store.iter_bytes(cid)) == f"photo {i} of a mask".encode()
    finally:
        node.close()


def test_a_corrupted_backup_is_refused_before_anything_is_written(
    source: tuple[Path, list[str]], tmp_path: Path
) -> None:
    # Prepare: one byte of one blob flipped
    data_dir, cids = source
    assert _cli("backup", str(tmp_path / "backup"), "--data-dir", str(data_dir)).exit_code == 0
    blob = tmp_path / "backup" / "blobs" / cids[1]
    blob.write_bytes(b"X" + blob.read_bytes()[1:])
    # Execute
    result = _cli("restore", str(tmp_path / "backup"), "--data-dir", str(tmp_path / "restored"))
    # Assert
    assert result.exit_code == IntegrityError.exit_code, result.output
    assert f"blobs/{cids[1]}" in result.output
    assert not (tmp_path / "restored").exists()


def test_backup_and_restore_refuse_places_already_in_use(
    source: tuple[Path, list[str]], tmp_path: Path
) -> None:
    data_dir, _ = source
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "something").write_text("mine")
    assert (
        _cli("backup", str(tmp_path / "taken"), "--data-dir", str(data_dir)).exit_code
        == InvalidInput.exit_code
    )
    assert _cli("backup", str(tmp_path / "backup"), "--data-dir", str(data_dir)).exit_code == 0
    result = _cli("restore", str(tmp_path / "backup"), "--data-dir", str(tmp_path / "taken"))
    assert result.exit_code == InvalidInput.exit_code and "not empty" in result.output
    assert (tmp_path / "taken" / "something").read_text() == "mine"
    assert not (tmp_path / "backup.partial").exists()


@pytest.mark.postgres
def test_a_postgresql_node_round_trips_through_pg_dump(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Prepare: a node on its own schema, and an empty database to restore into
    if shutil.which("pg_dump") is None:
        pytest.skip("pg_dump is not installed (apt-get install postgresql-client)")
    monkeypatch.setenv("DATACOOP_STAGES", '["size", "duplicates"]')
    schema, target_db = f"t_{secrets.token_hex(6)}", f"restore_{secrets.token_hex(6)}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
        conn.execute(text(f"CREATE DATABASE {target_db}"))
    source_db = Database(postgres_url, schema=schema)
    target_url = postgres_url.rsplit("/", 1)[0] + f"/{target_db}"
    try:
        node = build_node(Settings(data_dir=tmp_path / "node", chain="off"), db=source_db, with_chain=False)
        try:
            _fill(node)
            # Execute
            manifest = create_backup(node.db, node.store, tmp_path / "node", tmp_path / "backup")
        finally:
            node.close()
        restore_files(tmp_path / "backup", tmp_path / "restored", target_url)
        restored_db = Database(target_url, schema=schema)
        settings = Settings(data_dir=tmp_path / "restored", chain="off")
        restored = build_node(settings, db=restored_db, with_chain=False)
        try:
            assert sum(
                1
                for _ in restore_blobs(tmp_path / "backup", read_backup(tmp_path / "backup"), restored.store)
            )
            # Assert
            assert manifest.database == "database.pgdump" and len(manifest.blobs) >= 3
            assert restored.audit.verify().problem is None
            with restored.db.transaction() as s:
                assert s.scalar(select(func.count()).select_from(Submission)) == 3
        finally:
            restored.close()
            restored_db.dispose()
    finally:
        source_db.dispose()
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            conn.execute(text(f"DROP DATABASE IF EXISTS {target_db} WITH (FORCE)"))
        admin.dispose()
