"""`datacoop audit verify|show|anchor` on a node's data directory (SQLite), tampered with by hand."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from datacoop.app import build_node
from datacoop.cli import audit as audit_cli
from datacoop.settings import Settings


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """Stands in for the datacoop app (a group, as there)."""

    audit_cli.register(app)
    return app


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A node's data directory whose audit log holds three entries."""
    settings = Settings(data_dir=tmp_path / "node", chain="off", dev_accounts=0)
    node = build_node(settings, with_chain=False, check_stages=False)
    try:
        for i in range(1, 4):
            node.audit.record(actor="0xbuyer", action="download", subject=f"order:{i}", details={"bytes": i})
    finally:
        node.close()
    return settings.data_dir


def _run(app: typer.Typer, *args: str, data_dir: Path) -> Result:
    return CliRunner().invoke(
        app, ["audit", *args, "--data-dir", str(data_dir)], env={"DATACOOP_CHAIN": "off"}
    )


def _sql(data_dir: Path, statement: str) -> None:
    conn = sqlite3.connect(data_dir / "datacoop.db")
    try:
        conn.executescript(statement)
    finally:
        conn.close()


def test_verify_passes_an_untouched_log(app: typer.Typer, data_dir: Path) -> None:
    result = _run(app, "verify", data_dir=data_dir)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ok: 3 entries chain to head 0x")


@pytest.mark.parametrize(
    ("statement", "where"),
    [
        ("UPDATE audit_log SET details = '{\"bytes\": 200}' WHERE seq = 2", "audit_log[2]"),
        ("DELETE FROM audit_log WHERE seq = 2", "audit_log[2]"),
        (
            "UPDATE audit_log SET seq = -1 WHERE seq = 1; UPDATE audit_log SET seq = 1 WHERE seq = 2; "
            "UPDATE audit_log SET seq = 2 WHERE seq = -1",
            "audit_log[1]",
        ),
        ("DELETE FROM audit_log WHERE seq = 3", "audit_log[3]"),
    ],
    ids=["updated", "deleted", "reordered", "tail-deleted"],
)
def test_verify_finds_tampering(app: typer.Typer, data_dir: Path, statement: str, where: str) -> None:
    # Prepare
    _sql(data_dir, statement)
    # Execute
    result = _run(app, "verify", data_dir=data_dir)
    # Assert: exit code 6 (IntegrityError) and the entry named
    assert result.exit_code == 6, result.output
    assert f"error [{where}]: the audit log was tampered with" in result.stderr


def test_show_prints_entries_as_json_lines(app: typer.Typer, data_dir: Path) -> None:
    result = _run(app, "show", "--json", "--after", "1", data_dir=data_dir)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["seq"], r["subject"], r["details"]) for r in rows] == [
        (2, "order:2", {"bytes": 2}),
        (3, "order:3", {"bytes": 3}),
    ]
    assert rows[1]["prev_hash"] == rows[0]["hash"]


def test_anchor_then_verify_counts_it(app: typer.Typer, data_dir: Path) -> None:
    made = _run(app, "anchor", data_dir=data_dir)
    assert made.exit_code == 0 and "anchor at entry 3" in made.stdout
    assert "pending" in made.stdout
    again = _run(app, "anchor", data_dir=data_dir)
    assert "no anchor" in again.stdout
    checked = _run(app, "verify", data_dir=data_dir)
    assert "1 anchors match (1 pending: not on chain yet)" in checked.stdout


def test_chain_anchors_need_both_the_rpc_and_the_registry(app: typer.Typer, data_dir: Path) -> None:
    half = _run(app, "verify", "--rpc", "http://127.0.0.1:1", data_dir=data_dir)
    assert half.exit_code == 2 and "error [registry]: give --rpc and --registry together" in half.stderr
