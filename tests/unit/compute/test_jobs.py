"""Compute-to-data, done-when: misbehaving algorithms are stopped or withheld, with the reason shown
to the buyer; a well-behaved one's result is released and downloaded through a signed URL.

Each test goes the buyer's way: the SDK submits over the API, a worker (the service's own
``work_once``, what WorkerPool calls) runs the job in the real sandbox, the SDK reads the result.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import select
from tests.unit.compute.world import approve

from datacoop.app import Node
from datacoop.client import DataCoopClient
from datacoop.compute.licences import DatabaseLicences
from datacoop.compute.sandbox import JOB_UID
from datacoop.compute.schemas import JobPublic
from datacoop.db.models import AuditEntry, ComputeUsage
from datacoop.errors import Forbidden, InvalidInput, NotFound, Unavailable

pytestmark = pytest.mark.usefixtures("licensed")

WELL_BEHAVED = """
import json, os
import numpy as np
from PIL import Image

def run(data_dir, out_dir):
    index = json.load(open(os.path.join(data_dir, "index.json")))
    means = {}
    for item in index:
        pixels = np.asarray(Image.open(os.path.join(data_dir, item["file"])).convert("RGB"), dtype=float)
        means.setdefault(item["labels"]["tags"][0], []).append(pixels.mean(axis=(0, 1)))
    result = {label: np.mean(rows, axis=0).round(2).tolist() for label, rows in means.items()}
    summary = {"mean_rgb": result, "uid": os.getuid(), "items": len(index)}
    json.dump(summary, open(os.path.join(out_dir, "means.json"), "w"))
"""


def _run(node: Node, buyer: DataCoopClient, version_id: int, source: str, tmp_path: Path) -> JobPublic:
    # Prepare
    path = tmp_path / "algorithm.py"
    path.write_text(textwrap.dedent(source))
    approve(node, version_id, path)  # these tests are of approved algorithms (open ones: test_release_modes)
    job = buyer.compute_submit(version_id, path, requirements=["numpy", "pillow"])
    assert job.status == "queued"
    # Execute
    assert node.compute.work_once("test-worker")
    return buyer.compute_job(job.id)


def test_a_well_behaved_algorithm_is_released(
    node: Node, buyer: DataCoopClient, version_id: int, tmp_path: Path
) -> None:
    job = _run(node, buyer, version_id, WELL_BEHAVED, tmp_path)

    assert (job.status, job.outcome, job.reason) == ("done", "released", None), job.log
    files = buyer.compute_fetch(job.id, tmp_path / "got")
    result = json.loads(files[0].read_text())
    assert result["items"] == 6
    red, blue = result["mean_rgb"]["red"], result["mean_rgb"]["blue"]
    assert red[0] > red[2] + 80 and blue[2] > blue[0] + 80  # the colours the images were drawn around
    # the isolation that applied here, seen from inside the job as well as reported
    assert result["uid"] == JOB_UID and job.isolation["boundary"] == "bubblewrap"
    assert job.isolation["host_uid"] != 0 and "net" in job.isolation["namespaces"]
    with node.db.transaction() as s:
        usage = s.scalars(select(ComputeUsage)).all()
        audit = s.scalars(
            select(AuditEntry.action).where(AuditEntry.subject == f"compute_job:{job.id}")
        ).all()
    assert [(u.unit, u.quantity, u.amount) for u in usage] == [("job", 1, 3 * 10**18)]
    assert list(audit) == ["compute.job.submitted", "compute.job.finished"]


def test_opening_a_network_socket_stops_the_job(
    node: Node, buyer: DataCoopClient, version_id: int, tmp_path: Path
) -> None:
    source = """
    import socket
    def run(data_dir, out_dir):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.connect(("127.0.0.1", 80))
    """
    job = _run(node, buyer, version_id, source, tmp_path)

    assert job.outcome == "stopped"
    assert job.reason is not None and job.reason.startswith("the sandbox refused an operation (EPERM)")
    assert job.log is not None and "PermissionError: [Errno 1] Operation not permitted" in job.log
    assert job.outputs == []


def test_the_nodes_files_are_not_in_the_jobs_world(
    node: Node, buyer: DataCoopClient, version_id: int, tmp_path: Path
) -> None:
    secrets = [node.settings.data_dir / "download_secret", node.settings.data_dir / "compute_url_secret"]
    source = f"""
    import json, os
    def run(data_dir, out_dir):
        found = {{}}
        for path in {[str(p) for p in secrets]!r} + [os.path.join(data_dir, "..", "..", "etc", "passwd")]:
            try:
                found[path] = open(path).read()
            except OSError as exc:
                found[path] = exc.strerror
        json.dump(found, open(os.path.join(out_dir, "found.json"), "w"))
    """
    assert all(p.exists() for p in secrets)  # they are there, on the host

    job = _run(node, buyer, version_id, source, tmp_path)

    assert job.outcome == "released", job.reason
    found = json.loads(buyer.compute_fetch(job.id, tmp_path / "got")[0].read_text())
    assert set(found.values()) == {"No such file or directory"}


def test_writing_ten_times_the_output_limit_stops_the_job(
    node: Node, buyer: DataCoopClient, version_id: int, tmp_path: Path
) -> None:
    limits = node.compute.config.limits
    source = f"""
    import os
    def run(data_dir, out_dir):
        with open(os.path.join(out_dir, "big.txt"), "w") as f:
            for _ in range(10):
                f.write("x" * {limits.output_bytes})
    """
    job = _run(node, buyer, version_id, source, tmp_path)

    assert job.outcome == "stopped"
    assert job.reason == (
        f"the algorithm wrote more than its space allows (/out holds {limits.output_bytes:,} bytes "
        f"and /tmp {limits.tmp_bytes:,})"
    )
    assert job.outputs == []


def test_more_files_than_allowed_are_withheld(
    node: Node, buyer: DataCoopClient, version_id: int, tmp_path: Path
) -> None:
    most = node.compute.config.outputs.max_files
    source = f"""
    import os
    def run(data_dir, out_dir):
        for i in range({most + 4}):  # each small, too many together
            open(os.path.join(out_dir, f"part{{i}}.txt"), "w").write("x")
    """
    job = _run(node, buyer, version_id, source, tmp_path)

    assert job.outcome == "withheld"
    assert job.reason == f"the outputs are {most + 4} files, over the limit of {most} files"


def test_copying_an_input_item_into_the_output_is_withheld(
    node: Node, buyer: DataCoopClient, version_id: int, tmp_path: Path
) -> None:
    source = """
    import os
    import numpy as np
    def run(data_dir, out_dir):
        items = os.path.join(data_dir, "items")
        raw = open(os.path.join(items, sorted(os.listdir(items))[2]), "rb").read()
        # smuggled out inside an allowed type: a valid .npy array of the item's bytes
        np.save(os.path.join(out_dir, "weights.npy"), np.frombuffer(raw, dtype=np.uint8))
    """
    job = _run(node, buyer, version_id, source, tmp_path)

    assert job.outcome == "withheld"
    assert job.reason is not None and "contains bytes of input item '000002.png'" in job.reason
    assert job.outputs == []
    with pytest.raises(NotFound):  # nothing was released, so there is nothing to link to
        buyer.compute_fetch(job.id, tmp_path, names=["weights.npy"])


def test_a_requirement_off_the_allow_list_is_refused(
    buyer: DataCoopClient, version_id: int, tmp_path: Path
) -> None:
    path = tmp_path / "algorithm.py"
    path.write_text("def run(data_dir, out_dir):\n    pass\n")

    with pytest.raises(InvalidInput) as caught:
        buyer.compute_submit(version_id, path, requirements=["numpy", "requests>=2"])

    assert caught.value.field == "requirements[1]"
    assert "'requests' is not on the allow-list" in caught.value.message


def test_a_buyer_without_a_licence_cannot_submit(
    sdk,
    version_id: int,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    from tests.conftest import make_account

    stranger: DataCoopClient = sdk(make_account(0x5757))
    path = tmp_path / "algorithm.py"
    path.write_text("def run(data_dir, out_dir):\n    pass\n")

    with pytest.raises(Forbidden):
        stranger.compute_submit(version_id, path)


def test_the_worker_pool_runs_queued_jobs(
    node: Node, buyer: DataCoopClient, version_id: int, tmp_path: Path
) -> None:
    path = tmp_path / "algorithm.py"
    path.write_text(textwrap.dedent(WELL_BEHAVED))
    approve(node, version_id, path)
    job = buyer.compute_submit(version_id, path, requirements=["numpy", "pillow"])
    node.start_compute_workers()
    try:
        done = buyer.compute_wait(job.id, timeout=60, poll=0.1)
    finally:
        node.close_compute_workers()

    assert (done.status, done.outcome) == ("done", "released")
    assert node.compute.claim("another") is None  # nothing left, and a finished job is not leased again


def test_a_download_link_is_the_buyers_own_and_runs_out(
    node: Node,
    buyer: DataCoopClient,
    version_id: int,
    tmp_path: Path,
    api,
    sdk,
    clock,  # type: ignore[no-untyped-def]
) -> None:
    # Prepare
    from tests.conftest import make_account

    job = _run(node, buyer, version_id, WELL_BEHAVED, tmp_path)
    link = buyer._request("POST", f"/compute/jobs/{job.id}/outputs/means.json/link").json()
    own, other = buyer._auth_headers(), sdk(make_account(0x07E4))._auth_headers()
    url = link["url"]
    # Execute
    anonymous, stranger, served = api.get(url), api.get(url, headers=other), api.get(url, headers=own)
    forged = api.get(url.replace(buyer.account.address, "0x" + "1" * 40), headers=own)  # type: ignore[union-attr]
    odd_sig = api.get(url.split("&sig=")[0] + "&sig=%C3%A9" * 1, headers=own)
    odd_buyer = api.get(url.replace(buyer.account.address, "%C3%A9"), headers=own)  # type: ignore[union-attr]
    clock.advance(seconds=link["ttl_seconds"] + 1)
    expired = api.get(url, headers=own)
    # Assert: only the buyer's own session, with headers that keep a browser from rendering it
    assert (anonymous.status_code, stranger.status_code, served.status_code) == (401, 403, 200)
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.headers["Content-Disposition"] == 'attachment; filename="means.json"'
    assert [r.status_code for r in (forged, odd_sig, odd_buyer, expired)] == [403, 403, 403, 410]


def test_a_job_whose_worker_died_is_taken_up_again(
    node: Node,
    buyer: DataCoopClient,
    version_id: int,
    tmp_path: Path,
    clock,  # type: ignore[no-untyped-def]
) -> None:
    path = tmp_path / "algorithm.py"
    path.write_text(textwrap.dedent(WELL_BEHAVED))
    approve(node, version_id, path)
    job = buyer.compute_submit(version_id, path, requirements=["numpy", "pillow"])
    assert node.compute.claim("worker-that-dies") == job.id
    assert node.compute.claim("second") is None  # its lease is live

    clock.advance(seconds=node.compute.config.lease.total_seconds() + 1)

    assert node.compute.claim("second") == job.id
    assert node.compute.process(job.id, "second") == "released"


def test_a_per_cpu_second_licence_is_billed_for_the_cpu_the_job_used(
    node: Node,
    sdk,
    version_id: int,
    tmp_path: Path,
    clock,  # type: ignore[no-untyped-def]
) -> None:
    # Prepare: a buyer whose licence is priced per CPU-second (7 base units each)
    from tests.conftest import make_account

    metered = make_account(0xC9B)
    with node.db.transaction() as s:
        DatabaseLicences.grant(s, version_id=version_id, buyer=metered.address, unit="cpu_second", price=7,
                               source="test", now=clock())  # fmt: skip
    path = tmp_path / "algorithm.py"
    path.write_text("import time\ndef run(d, o):\n    while time.process_time() < 1.2:\n        pass\n")
    approve(node, version_id, path)
    # Execute
    job = sdk(metered).compute_submit(version_id, path)
    assert node.compute.work_once("test-worker")
    # Assert: between 1.2 and 2 CPU-seconds were used: two begun seconds are billed
    with node.db.transaction() as s:
        usage = s.scalars(select(ComputeUsage).where(ComputeUsage.subject == f"compute_job:{job.id}")).one()
    assert (usage.unit, usage.quantity, usage.amount) == ("cpu_second", 2, 14)


def test_a_node_without_bubblewrap_refuses_jobs_and_says_why(
    buyer: DataCoopClient, version_id: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "algorithm.py"
    path.write_text("def run(data_dir, out_dir):\n    pass\n")
    monkeypatch.setenv("PATH", "/nonexistent")  # where the worker looks for bwrap

    with pytest.raises(Unavailable) as refused:
        buyer.compute_submit(version_id, path)

    assert refused.value.http_status == 503 and refused.value.field == "compute.sandbox"
    assert refused.value.message == (
        "compute jobs cannot run: bubblewrap (bwrap) is not installed (apt-get install bubblewrap)"
    )


def test_a_worker_without_bubblewrap_fails_the_job_and_runs_nothing(
    node: Node, buyer: DataCoopClient, version_id: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "algorithm.py"
    path.write_text("def run(data_dir, out_dir):\n    open(out_dir + '/ran.txt', 'w').write('ran')\n")
    approve(node, version_id, path)
    job = buyer.compute_submit(version_id, path)
    monkeypatch.setenv("PATH", "/nonexistent")  # the worker's host lost bubblewrap since

    assert node.compute.work_once("test-worker")

    done = buyer.compute_job(job.id)
    assert (done.outcome, done.outputs) == ("failed", [])
    assert (
        done.reason
        == "compute jobs cannot run: bubblewrap (bwrap) is not installed (apt-get install bubblewrap)"
    )
