"""The sandbox seen from the host: who its processes are, that none outlives the job, the
filesystem a job sees, and that a node missing a piece of the boundary refuses to run jobs."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from datacoop.compute.mounts import choose_interpreter, package_mounts
from datacoop.compute.sandbox import JOB_UID, Limits, prepare_dirs, run_sandboxed, seal_read_only, unseal
from datacoop.compute.syscalls import require_isolation, seccomp_filters
from datacoop.errors import Unavailable


@pytest.fixture
def job_root() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="datacoop-test-job-"))
    yield root
    unseal(root)
    shutil.rmtree(root)


def _job(root: Path, source: str, **limits: float) -> tuple[str, str | None, dict[str, object] | None]:
    dirs = prepare_dirs(root)
    (dirs["data"] / "index.json").write_text("[]")
    (dirs["algo"] / "algorithm.py").write_text(source)
    seal_read_only(dirs["data"])
    seal_read_only(dirs["algo"])
    result = run_sandboxed(root, "algorithm:run", Limits(**limits), requirements=["numpy"])  # type: ignore[arg-type]
    found = root / "out" / "r.json"
    return result.status, result.reason, json.loads(found.read_text()) if found.exists() else None


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        for child in (task / "children").read_text().split():
            found += [int(child), *_children(int(child))]
    return found


def _status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {k: v.strip() for k, _, v in (line.partition(":") for line in lines)}


def _sandbox_processes(root: Path) -> list[int]:
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if b"bwrap" in cmdline.split(b"\0")[0] and str(root).encode() in cmdline:
            return [int(proc.name), *_children(int(proc.name))]
    return []


def test_every_process_of_the_sandbox_is_unprivileged_on_the_host(job_root: Path) -> None:
    # Prepare: watch the host's /proc while the job waits
    seen: dict[int, dict[str, str]] = {}

    def watch() -> None:
        deadline = time.monotonic() + 20
        pythons = 0
        while time.monotonic() < deadline and pythons < 2:  # the runner and the job, once both exist
            for pid in _sandbox_processes(job_root):
                with contextlib.suppress(OSError):
                    seen[pid] = _status(pid)  # the latest: bwrap's child becomes the runner when it execs
            pythons = sum(info["Name"].startswith("python") for info in seen.values())
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    # Execute
    status, _, _ = _job(job_root, "import time\ndef run(d, o):\n    time.sleep(2)\n")
    watcher.join()
    # Assert: bwrap, the runner and the job: never uid 0, no capability; the two inside under seccomp
    assert status == "finished" and len(seen) == 3
    expected_uid = str(JOB_UID) if os.geteuid() == 0 else str(os.geteuid())
    for info in seen.values():
        assert info["Uid"].split() == [expected_uid] * 4 and info["Gid"].split()[0] == expected_uid
        assert int(info["CapEff"], 16) == 0
    inside = [info for info in seen.values() if info["Name"].startswith("python")]
    assert len(inside) == 2
    assert all(info["Seccomp"] == "2" and info["NoNewPrivs"] == "1" for info in inside)


def test_nothing_of_the_job_outlives_it(job_root: Path) -> None:
    source = """
import os, threading, time
def run(d, o):
    os.setsid()
    threading.Thread(target=time.sleep, args=(60,)).start()  # a thread that would outlive run()
    for _ in range(30):
        try:
            os.fork()
        except OSError:
            pass
"""
    pids: list[int] = []
    watcher = threading.Thread(target=lambda: [pids.extend(_sandbox_processes(job_root)) or time.sleep(0.05)
                                               for _ in range(20)])  # fmt: skip
    watcher.start()

    status, _, _ = _job(job_root, source, wall_seconds=10)
    watcher.join()

    assert status == "finished"
    assert pids and not [p for p in set(pids) if Path(f"/proc/{p}").exists()]


LISTING = """
import json, os
def tree(path, depth):
    if depth == 0 or not os.path.isdir(path) or os.path.islink(path):
        return None
    return {name: tree(os.path.join(path, name), depth - 1) for name in sorted(os.listdir(path))}
def run(d, o):
    seen = {p: tree(p, 3) for p in ("/", "/usr", "/site", "/sandbox", "/algo", "/data", "/out", "/tmp")}
    seen["/"] = sorted(os.listdir("/"))
    seen["/usr"] = sorted(os.listdir("/usr"))
    seen["/usr/lib"] = sorted(os.listdir("/usr/lib"))
    seen["/dev"] = sorted(os.listdir("/dev"))
    seen["/proc"] = sorted(p for p in os.listdir("/proc") if p.isdigit())
    seen["/site"] = sorted(os.listdir("/site"))
    json.dump(seen, open(os.path.join(o, "r.json"), "w"))
"""


def test_the_job_sees_only_its_own_mounts(job_root: Path) -> None:
    _, _, seen = _job(job_root, LISTING)

    assert seen is not None
    lib64 = ["lib64"] if Path("/usr/lib64").is_dir() else []
    assert seen["/"] == sorted(
        ["algo", "data", "dev", "lib", "out", "proc", "sandbox", "site", "tmp", "usr", *lib64]
    )
    python = Path(choose_interpreter().executable)
    assert seen["/usr"] == sorted(["lib", *lib64, *(["bin"] if python.parent == Path("/usr/bin") else [])])
    assert seen["/usr/lib"] == sorted(os.listdir("/usr/lib"))  # the host's libraries, read-only
    assert seen["/site"] == sorted(p.rsplit("/", 1)[1] for p in package_mounts(["numpy"]).values())
    assert seen["/sandbox"] == {"runner.py": None}
    assert seen["/algo"] == {"algorithm.py": None}
    assert seen["/data"] == {"index.json": None}
    assert seen["/out"] == {} and seen["/tmp"] == {}
    assert seen["/proc"] == ["1", "2"]
    assert seen["/dev"] == ["core", "fd", "full", "null", "ptmx", "pts", "random", "shm",
                            "stderr", "stdin", "stdout", "tty", "urandom", "zero"]  # fmt: skip


def test_an_exception_is_a_failure_with_its_traceback_in_the_log(job_root: Path) -> None:
    dirs = prepare_dirs(job_root)
    (dirs["algo"] / "algorithm.py").write_text("def run(d, o):\n    raise ValueError('bad input shape')\n")

    result = run_sandboxed(job_root, "algorithm:run", Limits())

    assert (result.status, result.reason) == ("error", "the algorithm failed (exit code 1); see the log")
    assert b"ValueError: bad input shape" in result.log


def test_without_bubblewrap_nothing_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")

    with pytest.raises(Unavailable) as caught:
        require_isolation()

    assert caught.value.message == (
        "compute jobs cannot run: bubblewrap (bwrap) is not installed (apt-get install bubblewrap)"
    )


def test_without_libseccomp_nothing_runs(tmp_path: Path) -> None:
    with pytest.raises(Unavailable) as missing:
        seccomp_filters(tmp_path / "python3")
    with pytest.raises(Unavailable) as unusable:  # an interpreter without the bindings
        seccomp_filters(Path(sys.executable))

    assert missing.value.message.endswith("is missing (apt-get install python3 python3-seccomp)")
    assert "libseccomp could not compile the filter: ModuleNotFoundError" in unusable.value.message
    assert unusable.value.message.endswith("(apt-get install python3-seccomp)")


def test_a_job_folder_the_sandbox_cannot_reach_is_refused(tmp_path: Path) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    (private / "job").mkdir()

    with pytest.raises(Unavailable) as caught:
        prepare_dirs(private / "job")

    assert caught.value.field == "compute_work_dir"
