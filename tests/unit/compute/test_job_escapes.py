"""A handful of the escape corpus through the buyer's whole path (SDK → API → queue → sandbox → result),
on SQLite and PostgreSQL: the job is stopped and the buyer reads why."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import pytest
from tests.unit.compute.world import approve

from datacoop.app import Node
from datacoop.client import DataCoopClient
from datacoop.compute.schemas import JobPublic

pytestmark = pytest.mark.usefixtures("licensed")

SIGSYS = "the algorithm made a system call the sandbox forbids (it was killed by SIGSYS)"
EPERM = (
    "the sandbox refused an operation (EPERM): sockets, new processes and other programs are not allowed; "
    "see the log"
)


def _run(node: Node, buyer: DataCoopClient, version_id: int, body: str, tmp_path: Path) -> JobPublic:
    path = tmp_path / "algorithm.py"
    path.write_text("import ctypes, os, socket, subprocess, time\n\ndef run(data_dir, out_dir):\n"
                    + textwrap.indent(textwrap.dedent(body), "    "))  # fmt: skip
    approve(node, version_id, path)
    job = buyer.compute_submit(version_id, path)
    assert node.compute.work_once("test-worker")
    return buyer.compute_job(job.id)


CASES = {
    "unshare_a_user_namespace": ("ctypes.CDLL(None).syscall(272, 0x10000000)", SIGSYS),
    "ptrace_the_runner": ("ctypes.CDLL(None).ptrace(16, 1, 0, 0)", SIGSYS),
    "mount_over_data": ("ctypes.CDLL(None).mount(b'none', b'/data', b'tmpfs', 0, None)", SIGSYS),
    "unix_socket_to_the_node": (
        "socket.socket(socket.AF_UNIX).connect('/run/postgresql/.s.PGSQL.5432')",
        EPERM,
    ),
    "a_shell": ("subprocess.run(['/bin/sh', '-c', 'cat /etc/shadow'], check=True)", EPERM),
    "fork": ("os.fork()", EPERM),
}


@pytest.mark.parametrize("name", list(CASES))
def test_an_escape_through_the_api_is_stopped_with_its_reason(
    node: Node, buyer: DataCoopClient, version_id: int, tmp_path: Path, name: str
) -> None:
    body, reason = CASES[name]

    job = _run(node, buyer, version_id, body, tmp_path)

    assert (job.status, job.outcome, job.reason, job.outputs) == ("done", "stopped", reason, [])
    assert job.isolation["boundary"] == "bubblewrap" and job.isolation["host_uid"] != 0


def test_sleeping_past_the_wall_clock_is_stopped(
    node: Node, buyer: DataCoopClient, version_id: int, tmp_path: Path
) -> None:
    limits = dataclasses.replace(node.compute.config.limits, wall_seconds=2)
    node.compute.config = dataclasses.replace(node.compute.config, limits=limits)

    job = _run(node, buyer, version_id, "time.sleep(60)\n", tmp_path)

    assert (job.outcome, job.reason) == ("stopped", "the algorithm ran past the time limit of 2 s")
    assert job.seconds is not None and job.seconds < 10
