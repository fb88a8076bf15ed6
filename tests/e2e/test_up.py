"""`datacoop up` as a newcomer meets it: health, a clean Ctrl-C, data kept across restarts, bounded memory."""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import psutil
import pytest
from tests.e2e.conftest import RunningNode, start_node

from datacoop.cid import CidBuilder
from datacoop.client import DataCoopClient, load_account


def test_up_answers_health_and_reports_each_part(running_node: RunningNode) -> None:
    with httpx.Client() as http:
        health = http.get(running_node.url + "/v1/health").json()
        eip712 = http.get(running_node.url + "/v1/eip712").json()
    with DataCoopClient(
        running_node.url, account=load_account("dev:0", data_dir=running_node.data_dir)
    ) as op:
        op.login()  # the operator (dev:0 on the embedded chain) reads how the node is built
        details = op._request("GET", "/health").json()
    assert health["status"] == "ok"
    assert health["database"] == {"status": "ok"}  # anyone: the status, never the database URL
    assert details["database"]["dialect"] == "sqlite" and details["database"]["url"].startswith("sqlite")
    assert health["store"]["status"] == "ok"
    chain = health["chain"]
    assert (chain["status"], chain["chain_id"], chain["embedded"]) == ("ok", 31337, True)
    for name in ("token", "escrow", "registry", "market", "staking"):
        assert chain[name].startswith("0x") and len(chain[name]) == 42
    assert eip712["domain"]["verifyingContract"] == chain["escrow"]  # submissions are bound to the escrow
    accounts = json.loads((running_node.data_dir / "dev-accounts.json").read_text())["accounts"]
    assert accounts[0]["address"] == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"  # anvil's first dev account


def test_ctrl_c_stops_cleanly_and_data_persists(tmp_path: Path) -> None:
    # Prepare
    first = start_node(tmp_path / "node", tmp_path / "up.log")
    with DataCoopClient(first.url, account=load_account("dev:1", data_dir=first.data_dir)) as client:
        client.login()
        cid = client.upload(b"kept across restarts").cid
        chain_before = client.health()["chain"]
    # Execute
    code = first.stop()
    second = start_node(tmp_path / "node", tmp_path / "up.log")
    try:
        # Assert
        assert code == 0
        assert "DataCoop stopped" in first.log.read_text()
        with DataCoopClient(second.url, account=load_account("dev:1", data_dir=second.data_dir)) as again:
            again.login()  # the dev keys and their participant rows survived
            assert again._request("GET", f"/blobs/{cid}").json()["cid"] == cid
            chain_after = again.health()["chain"]
        # the same contracts at the same addresses, and the blocks mined before the restart are still there
        addresses = ("token", "escrow", "registry", "market", "staking")
        assert {k: chain_after[k] for k in addresses} == {k: chain_before[k] for k in addresses}
        assert chain_after["block"] >= chain_before["block"] > 0
    finally:
        second.stop()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_a_stop_signal_stops_every_child(tmp_path: Path, sig: signal.Signals) -> None:
    # Prepare: the node's children (anvil, the pre-screening worker) are running
    node = start_node(tmp_path / "node", tmp_path / "up.log")
    children = psutil.Process(node.process.pid).children(recursive=True)
    names = sorted(c.name() for c in children)
    # Execute
    code = node.stop(sig=sig)
    # Assert: the parent exits cleanly and no child outlives it
    _, alive = psutil.wait_procs(children, timeout=10)
    assert any("anvil" in n for n in names) and len(children) >= 2, names
    assert code == 0, node.log.read_text()[-2000:]
    assert "DataCoop stopped" in node.log.read_text()
    assert alive == [], [(p.pid, p.name()) for p in alive]


def _pattern(total: int, chunk: int = 1 << 20) -> Iterator[bytes]:
    block = bytes(range(256)) * (chunk // 256)
    sent = 0
    while sent < total:
        piece = block[: min(chunk, total - sent)]
        sent += len(piece)
        yield piece


def _server_rss(pid: int) -> int:
    # The API server itself: anvil and the pre-screening worker are programs of their own beside it.
    return int(psutil.Process(pid).memory_info().rss)


@pytest.mark.slow
def test_one_gib_upload_keeps_server_memory_under_200_mib(running_node: RunningNode) -> None:
    # Prepare
    total = 1 << 30
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _server_rss(running_node.process.pid))
            done.wait(0.05)

    client = DataCoopClient(running_node.url, account=load_account("dev:1", data_dir=running_node.data_dir))
    client.login()
    expected = CidBuilder()
    for piece in _pattern(total):
        expected.update(piece)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    # Execute
    try:
        blob = client.upload(_pattern(total))  # streamed, chunked: the server never sees a length up front
    finally:
        done.set()
        sampler.join()
        client.close()
    # Assert
    assert blob.size == total
    assert blob.cid == expected.finish()
    print(f"server RSS peak during a 1 GiB upload: {peak[0] / 2**20:.0f} MiB")
    assert peak[0] < 200 * 2**20, f"server RSS peaked at {peak[0] / 2**20:.0f} MiB"
