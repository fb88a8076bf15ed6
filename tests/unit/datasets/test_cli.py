"""`datacoop dataset …` on a data directory while no node runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.unit.datasets.conftest import Accepted, cli_database_url
from typer.testing import CliRunner

from datacoop.cli import app
from datacoop.client import DataCoopClient


def test_create_list_show_verify_and_prove_on_a_data_dir(
    requester: DataCoopClient, accepted: Accepted, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Prepare: the data directory of the node the fixtures built, with the node stopped
    monkeypatch.setenv("DATACOOP_DATABASE_URL", cli_database_url(accepted.node.db))
    monkeypatch.setenv("DATACOOP_CHAIN", "off")
    data_dir = str(accepted.node.settings.data_dir)
    run = CliRunner().invoke
    # Execute
    created = run(
        app, ["dataset", "create", "masks", "--task", str(accepted.task.id), "--json", "--data-dir", data_dir]
    )
    listed = run(app, ["dataset", "list", "--json", "--data-dir", data_dir])
    # Assert
    assert created.exit_code == 0, created.output
    versions = json.loads(listed.output)
    assert [(v["id"], v["number"], v["item_count"], v["dataset_name"]) for v in versions] == [
        (1, 1, 3, "masks")
    ]
    assert versions[0]["anchor"]["status"] == "off"
    manifest = tmp_path / "manifest.json"
    shown = run(app, ["dataset", "show", "1", "--manifest", str(manifest), "--data-dir", data_dir])
    assert shown.exit_code == 0 and "not anchored" in shown.output
    verified = run(app, ["dataset", "verify", str(manifest), "--blobs", data_dir])
    assert verified.exit_code == 0, verified.output
    assert "verified" in verified.output
    proof = tmp_path / "proof.json"
    assert (
        run(app, ["dataset", "proof", "1", "2", "--out", str(proof), "--data-dir", data_dir]).exit_code == 0
    )
    assert run(app, ["dataset", "verify-proof", str(proof)]).exit_code == 0
    # A changed manifest fails, exit code 6, with what failed
    document = json.loads(manifest.read_bytes())
    document["items"][0]["labels"] = {"tags": ["changed"]}
    manifest.write_text(json.dumps(document))
    failed = run(app, ["dataset", "verify", str(manifest), "--blobs", data_dir])
    assert failed.exit_code == 6 and "root" in failed.output
    missing = run(app, ["dataset", "proof", "1", "9", "--data-dir", data_dir])
    assert missing.exit_code == 4 and "no item at index 9" in missing.output
