"""The sandbox's layers, each on its own: the kernel's (user, network namespace, limits) without the
audit hook, and the hook's. What applies depends on the machine (root or not, namespaces allowed or
not): the tests read the plan and assert that what was promised held."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from datacoop.compute.sandbox import (
    Limits,
    _preexec,
    plan_isolation,
    prepare_dirs,
    run_sandboxed,
    seal_read_only,
)


@pytest.fixture
def job_root(tmp_path: Path) -> Path:
    root = tmp_path / "job"
    root.mkdir()
    plan = plan_isolation()
    dirs = prepare_dirs(root, plan)
    (dirs["data"] / "item.bin").write_bytes(b"secret item bytes")
    seal_read_only(dirs["data"], plan)
    return root


PROBE = """
import json, os, socket, sys
found = {"uid": os.getuid()}
try:
    open(sys.argv[1], "w")
    found["write_data"] = "written"
except OSError as exc:
    found["write_data"] = type(exc).__name__
try:
    os.chmod(sys.argv[1], 0o666)
    found["chmod_data"] = "changed"
except OSError as exc:
    found["chmod_data"] = type(exc).__name__
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=2).close()
    found["connect"] = "connected"
except OSError as exc:
    found["connect"] = type(exc).__name__
print(json.dumps(found))
"""


def test_kernel_layers_hold_without_the_audit_hook(job_root: Path) -> None:
    # Prepare: a listener the child should not reach, and no audit hook (plain python -c)
    plan = plan_isolation()
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    # Execute
    done = subprocess.run(
        [sys.executable, "-I", "-c", PROBE, str(job_root / "data" / "item.bin"), str(port)],
        preexec_fn=_preexec(Limits(), plan),
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    listener.close()
    found = json.loads(done.stdout)
    # Assert: whichever layers this machine allowed, they held
    assert found["uid"] == plan.uid
    if plan.user != "same":  # a separate user, or root without capabilities: permission bits bite
        assert found["write_data"] == "PermissionError"
        assert found["chmod_data"] == "PermissionError"
    if plan.network_namespace:  # no route at all, not even to the host's loopback
        assert found["connect"] != "connected"
    assert plan.user in ("nobody", "root-without-capabilities", "same")


def _run(root: Path, source: str, **limits: float) -> tuple[str, str | None]:
    (root / "algo" / "algorithm.py").write_text(textwrap.dedent(source))
    result = run_sandboxed(root, "algorithm:run", Limits(**limits), plan_isolation())  # type: ignore[arg-type]
    return result.status, result.reason


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("import subprocess\ndef run(d, o):\n    subprocess.run(['true'])\n", "starting another process"),
        ("import os\ndef run(d, o):\n    os.system('true')\n", "starting another process"),
        ("import ctypes\ndef run(d, o):\n    ctypes.CDLL('libc.so.6')\n", "loading native code"),
        ("import os\ndef run(d, o):\n    open(os.path.join(d, 'item.bin'), 'a')\n", "writing outside"),
        ("def run(d, o):\n    import os; os.listdir('/root')\n", "reading outside"),
    ],
)
def test_the_audit_hook_stops_what_the_kernel_would_also_stop(
    job_root: Path, source: str, reason: str
) -> None:
    status, why = _run(job_root, source)

    assert status == "denied"
    assert why is not None and why.startswith(reason)


def test_the_wall_clock_limit_kills_the_process_group(job_root: Path) -> None:
    status, why = _run(job_root, "import time\ndef run(d, o):\n    time.sleep(30)\n", wall_seconds=1)

    assert (status, why) == ("limit", "the algorithm ran past the time limit of 1 s")


def test_an_exception_is_a_failure_with_its_traceback_in_the_log(job_root: Path) -> None:
    (job_root / "algo" / "algorithm.py").write_text(
        "def run(d, o):\n    raise ValueError('bad input shape')\n"
    )

    result = run_sandboxed(job_root, "algorithm:run", Limits(), plan_isolation())

    assert result.status == "error"
    assert b"ValueError: bad input shape" in result.log
