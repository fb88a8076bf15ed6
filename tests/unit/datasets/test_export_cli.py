"""`datacoop dataset export` on a real frozen version: from a stopped node's data directory, or from a
running node's API with the bytes read from its blob folder."""

from __future__ import annotations

import json
import socket
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import uvicorn
from tests.unit.datasets.conftest import Accepted, cli_database_url
from typer.testing import CliRunner, Result

from datacoop.api.app import create_app
from datacoop.cli import app
from datacoop.cli.dataset_export import parse_size
from datacoop.datasets.manifest import Manifest
from datacoop.errors import InvalidInput


@pytest.fixture
def data_dir(accepted: Accepted, monkeypatch: pytest.MonkeyPatch) -> str:
    """The fixtures' node as a data directory with one frozen version (id 1) of three items."""
    monkeypatch.setenv("DATACOOP_DATABASE_URL", cli_database_url(accepted.node.db))
    monkeypatch.setenv("DATACOOP_CHAIN", "off")
    folder = str(accepted.node.settings.data_dir)
    created = CliRunner().invoke(
        app, ["dataset", "create", "masks", "--task", str(accepted.task.id), "--data-dir", folder]
    )
    assert created.exit_code == 0, created.output
    return folder


def _export(data_dir: str, out: Path, *args: str) -> dict[str, object]:
    result = CliRunner().invoke(
        app, ["dataset", "export", "1", *args, "--out", str(out), "--json", "--data-dir", data_dir]
    )
    assert result.exit_code == 0, result.output
    summary: dict[str, object] = json.loads(result.stdout)
    return summary


def test_export_writes_each_format_from_the_data_dir(
    data_dir: str, accepted: Accepted, tmp_path: Path
) -> None:
    # Execute
    shards = _export(data_dir, tmp_path / "wds", "--format", "webdataset", "--shard-items", "2")
    rows = _export(data_dir, tmp_path / "pq", "--format", "parquet", "--with-bytes")
    car = _export(data_dir, tmp_path / "car", "--format", "car")
    sheet = _export(data_dir, tmp_path / "sheet", "--format", "datasheet")
    # Assert
    manifest = Manifest.from_bytes((tmp_path / "wds" / "manifest.json").read_bytes())
    stored = [b"".join(accepted.node.store.iter_bytes(item.cid)) for item in manifest.items]
    assert [item.submission_id for item in manifest.items] == accepted.ids
    assert shards["items"] == 3 and len(shards["files"]) == 3  # type: ignore[arg-type]  # 2 shards + manifest
    with tarfile.open(tmp_path / "wds" / "dataset-v1-000001.tar") as tar:
        assert tar.getnames() == ["00000002.jpg", "00000002.json"]
    table = pq.read_table(tmp_path / "pq" / "dataset-v1.parquet").to_pylist()
    assert [row["bytes"] for row in table] == stored and rows["blob_bytes"] == sum(map(len, stored))
    assert car["files"] == [str(tmp_path / "car" / "dataset-v1.car")]
    assert "## Composition" in Path(str(sheet["files"][0])).read_text()  # type: ignore[index]


def test_export_refuses_unknown_formats_and_options_of_other_formats(data_dir: str, tmp_path: Path) -> None:
    def run(*args: str) -> Result:
        return CliRunner().invoke(app, ["dataset", "export", *args, "-o", str(tmp_path)])

    typo = run("1", "-f", "webdatset", "--data-dir", data_dir)
    wrong = run("1", "-f", "car", "--with-bytes", "--data-dir", data_dir)
    missing = run("7", "-f", "car", "--data-dir", data_dir)
    assert typo.exit_code == 2 and "Did you mean 'webdataset'?" in typo.output
    assert wrong.exit_code == 2 and "--with-bytes does not apply to --format car" in wrong.output
    assert missing.exit_code == 4


@pytest.mark.parametrize(
    ("text", "size"), [("1GB", 10**9), ("500MB", 5 * 10**8), ("2GiB", 2 * 2**30), ("42", 42)]
)
def test_shard_sizes_read_with_units(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_a_shard_size_without_a_number_names_the_option() -> None:
    with pytest.raises(InvalidInput) as error:
        parse_size("big")
    assert error.value.field == "--shard-size"


@pytest.fixture
def node_url(accepted: Accepted) -> Iterator[str]:
    """The fixtures' node serving its API over HTTP on a free port, with one frozen version (id 1)."""
    dataset = accepted.node.datasets.create(None, "masks", {"task_ids": [accepted.task.id]})
    accepted.node.datasets.create_version(dataset.id)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(accepted.node), port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_export_from_a_running_node_reads_bytes_from_blobs(
    node_url: str, accepted: Accepted, tmp_path: Path
) -> None:
    def run(*args: str) -> Result:
        return CliRunner().invoke(app, ["dataset", "export", "1", *args, "--url", node_url])

    blobs = str(accepted.node.store.root)  # type: ignore[attr-defined]  # the LocalBlobStore's folder
    car = run("-f", "car", "-o", str(tmp_path / "car"), "--blobs", blobs, "--json")
    sheet = run("-f", "datasheet", "-o", str(tmp_path / "sheet"))  # the manifest alone: no --blobs needed
    no_blobs = run("-f", "webdataset", "-o", str(tmp_path / "wds"))
    assert car.exit_code == 0, car.output
    assert json.loads(car.stdout)["blob_bytes"] > 0 and (tmp_path / "car" / "dataset-v1.car").exists()
    assert sheet.exit_code == 0, sheet.output
    assert no_blobs.exit_code == 2 and "--blobs" in no_blobs.output
    assert not (tmp_path / "wds" / "dataset-v1-000000.tar").exists()
