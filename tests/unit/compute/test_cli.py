"""`datacoop compute policy`: the operator sets a version's release policy from the node's own CLI."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from tests.unit.datasets.conftest import cli_database_url
from typer.testing import CliRunner

from datacoop.app import Node
from datacoop.cli import app as cli


def test_the_operator_sets_a_release_policy(
    node: Node, version_id: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Prepare
    monkeypatch.setenv("DATACOOP_DATABASE_URL", cli_database_url(node.db))
    algorithm = tmp_path / "algorithm.py"
    algorithm.write_text("def run(data_dir, out_dir):\n    pass\n")
    data_dir = str(node.settings.data_dir)
    # Execute
    approved = CliRunner().invoke(
        cli, ["compute", "policy", str(version_id), "--mode", "approved", "--approve", str(algorithm),
              "--data-dir", data_dir],
    )  # fmt: skip
    after_approved = node.compute.policy(version_id)
    opened = CliRunner().invoke(
        cli, ["compute", "policy", str(version_id), "--parameter", "mean_rgb=2x3", "--metric", "items",
              "--mechanism", "laplace", "--epsilon", "0.5", "--epsilon-budget", "5", "--data-dir", data_dir],
    )  # fmt: skip
    bad = CliRunner().invoke(cli, ["compute", "policy", str(version_id), "--mechanism", "laplace",
                                   "--data-dir", data_dir])  # fmt: skip
    # Assert
    assert approved.exit_code == 0, approved.output
    assert after_approved.approved == [hashlib.sha256(algorithm.read_bytes()).hexdigest()]
    assert opened.exit_code == 0, opened.output
    policy = node.compute.policy(version_id)
    assert (policy.mode, policy.parameters, policy.metrics) == ("open", {"mean_rgb": [2, 3]}, ["items"])
    assert (policy.mechanism, policy.epsilon, policy.epsilon_budget) == ("laplace", 0.5, 5.0)
    assert bad.exit_code == 2 and "a noise mechanism needs epsilon > 0 per job" in bad.output
