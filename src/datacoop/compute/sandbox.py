"""Run a buyer's algorithm beside the data, behind a boundary the kernel holds.

Each job runs under bubblewrap in fresh user, mount, PID, network, IPC, UTS and cgroup
namespaces, on a root filesystem built for it (see :mod:`datacoop.compute.mounts`), as uid
65534 inside and, on the host, as a dedicated unprivileged uid (``Limits.host_uid`` when the node
runs as root; the node's own uid otherwise, never 0). Every process of the sandbox is under a
seccomp filter (no sockets, no ptrace, no mount/unshare/setns, no bpf, keyrings, perf, …) with
``no_new_privs`` and no nested user namespaces; the buyer's code also cannot exec or fork.
Resource limits cap CPU, address space, processes, file size and open files; ``/out`` and
``/tmp`` are tmpfs of a fixed size; a wall clock kills the sandbox's whole process tree.
If any piece is missing the job is not run (:func:`~datacoop.compute.syscalls.require_isolation`).

The previous audit-hook sandbox is gone: no part of the boundary is an in-process check.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import stat
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from datacoop.compute.mounts import SITE, choose_interpreter, package_mounts
from datacoop.compute.results import RunnerReport, read_report
from datacoop.compute.syscalls import Prerequisites, require_isolation
from datacoop.errors import Unavailable

__all__ = ["JOB_UID", "Limits", "SandboxResult", "prepare_dirs", "run_sandboxed", "seal_read_only", "unseal"]

JOB_UID = 65534  # the uid inside the sandbox (and outside, unless Limits.host_uid says otherwise)
_RUNNER = Path(__file__).with_name("_runner.py")
_EXIT_TOO_BIG = 87
_REFUSED = (
    "the sandbox refused an operation (EPERM): sockets, new processes and other programs are not "
    "allowed; see the log"
)


@dataclass(frozen=True)
class Limits:
    """What one job may use."""

    cpu_seconds: int = 60
    wall_seconds: float = 120
    memory_bytes: int = 2 * 1024**3
    output_bytes: int = 10 * 1024**2  # the size of /out, and the largest file the job may write
    tmp_bytes: int = 64 * 1024**2  # the size of /tmp
    processes: int = 64  # threads count: BLAS and the interpreter start a few
    open_files: int = 256
    files: int = 10_000  # files and folders in /out and /tmp together (each costs kernel memory)
    host_uid: int = JOB_UID  # the host uid the sandbox runs as when DataCoop runs as root


@dataclass
class SandboxResult:
    """How the job ended: ``finished``, ``denied``, ``limit`` or ``error``; its log; what it wrote."""

    status: str
    reason: str | None
    exit_code: int | None
    log: bytes
    seconds: float
    isolation: dict[str, Any] = field(default_factory=dict)
    outputs: list[str] = field(default_factory=list)  # files now in root/out
    output_problem: str | None = None
    cpu_seconds: float = 0.0  # the buyer's code's, as the kernel counted it


def prepare_dirs(root: Path) -> dict[str, Path]:
    """The job's host folder: ``algo`` and ``data`` (to fill, then seal) and ``out`` (filled after).

    Raises:
        Unavailable: the sandbox's unprivileged uid could not reach ``root`` (a parent is private).
    """
    closed = [p for p in root.parents if p.stat().st_mode & stat.S_IXOTH == 0]
    if closed:
        raise Unavailable(
            f"compute jobs cannot run in {root}: {closed[0]} is closed to the sandbox's unprivileged uid "
            "(set compute_work_dir to a folder others may pass through)", field="compute_work_dir",
        )  # fmt: skip
    root.chmod(0o711)  # the sandbox's uid may pass through, not list
    dirs = {name: root / name for name in ("algo", "data", "out")}
    for path in dirs.values():
        path.mkdir(exist_ok=True)
    dirs["out"].chmod(0o700)
    return dirs


def seal_read_only(folder: Path) -> None:
    """Files 0444, folders 0555: readable by the sandbox's uid, writable by nobody."""
    for dirpath, _dirnames, filenames in os.walk(folder, topdown=False):
        for name in filenames:
            os.chmod(os.path.join(dirpath, name), 0o444)
        os.chmod(dirpath, 0o555)


def _host_uid(limits: Limits) -> int:
    return limits.host_uid if os.geteuid() == 0 else os.geteuid()


def _bwrap_argv(
    pre: Prerequisites, root: Path, limits: Limits, requirements: list[str]
) -> tuple[list[str], str]:
    interp = choose_interpreter()
    argv = [pre.bwrap, "--unshare-all", "--unshare-user", "--disable-userns", "--uid", str(JOB_UID),
            "--gid", str(JOB_UID), "--hostname", "job", "--die-with-parent", "--new-session", "--as-pid-1",
            "--clearenv", "--setenv", "PATH", "/usr/bin", "--setenv", "HOME", "/tmp",
            "--setenv", "LANG", "C.UTF-8", "--seccomp", "{seccomp_fd}",
            "--ro-bind", "/usr/lib", "/usr/lib", "--symlink", "usr/lib", "/lib"]  # fmt: skip
    if Path("/usr/lib64").is_dir():
        argv += ["--ro-bind", "/usr/lib64", "/usr/lib64", "--symlink", "usr/lib64", "/lib64"]
    for path in interp.mounts:
        argv += ["--ro-bind", path, path]
    argv += ["--dir", SITE]
    for host, inside in sorted(package_mounts(requirements).items()):
        argv += ["--ro-bind", host, inside]
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        argv += ["--setenv", var, "1"]
    argv += ["--ro-bind", str(root / "algo"), "/algo", "--ro-bind", str(root / "data"), "/data",
             "--ro-bind", str(root / "runner.py"), "/sandbox/runner.py",
             "--size", str(limits.output_bytes), "--tmpfs", "/out",
             "--size", str(limits.tmp_bytes), "--tmpfs", "/tmp",
             "--proc", "/proc", "--dev", "/dev", "--remount-ro", "/dev", "--chdir", "/tmp",
             "--remount-ro", "/"]  # fmt: skip
    return argv, interp.executable


def _preexec(limits: Limits) -> Any:
    def setup() -> None:  # in the child between fork and exec: limits for bwrap and all below it
        slack = 1 << 16  # the runner's result file: /out plus its headers
        for res, value in (
            (resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1)),
            (resource.RLIMIT_AS, (limits.memory_bytes,) * 2),
            (resource.RLIMIT_FSIZE, (limits.output_bytes + slack,) * 2),
            (resource.RLIMIT_NOFILE, (limits.open_files,) * 2),
            (resource.RLIMIT_NPROC, (limits.processes,) * 2),
            (resource.RLIMIT_CORE, (0, 0)),
        ):
            resource.setrlimit(res, value)

    return setup


def run_sandboxed(
    root: Path, entry: str, limits: Limits, *, requirements: list[str] | None = None
) -> SandboxResult:
    """Run ``entry`` (``module:function``) of ``root/algo`` over ``root/data``; outputs land in ``root/out``.

    Raises:
        Unavailable: bubblewrap, user namespaces or libseccomp are missing (nothing ran).
    """
    pre = require_isolation()
    argv, python = _bwrap_argv(pre, root, limits, list(requirements or []))
    shutil.copyfile(_RUNNER, root / "runner.py")
    (root / "runner.py").chmod(0o444)
    config = {"entry": entry, "inner_filter": pre.filters.inner.hex(), "output_bytes": limits.output_bytes,
              "max_files": limits.files,
              "sys_path": [*choose_interpreter().stdlib_paths, SITE]}  # fmt: skip
    argv += [python, "-I", "-S", "-B", "/sandbox/runner.py"]
    started = time.monotonic()
    timed_out = _spawn(argv, config, pre.filters.outer, root, limits)
    seconds = time.monotonic() - started
    report = read_report(root / "result.bin", root / "out", limits.output_bytes)
    log = (root / "log.txt").read_bytes()
    status, reason, code = _verdict(report, timed_out, limits, log)
    outputs = report.files if status == "finished" else []
    cpu = (report.ended or {}).get("cpu_ms", 0) / 1000
    if timed_out:  # killed from outside: no count came back, so the most it could have used
        cpu = float(min(limits.cpu_seconds, limits.wall_seconds))
    return SandboxResult(status, reason, code, log, seconds, _isolation(limits), outputs, report.problem, cpu)


def _spawn(argv: list[str], config: dict[str, Any], outer: bytes, root: Path, limits: Limits) -> bool:
    read_fd, write_fd = os.pipe()  # the outer filter, for bwrap to read (a few KiB: fits the pipe)
    os.write(write_fd, outer)
    os.close(write_fd)
    uid = _host_uid(limits)
    with _private(root / "log.txt") as log, _private(root / "result.bin") as result:
        config = {**config, "result_fd": result.fileno()}
        argv = [a.replace("{seccomp_fd}", str(read_fd)) for a in argv] + [json.dumps(config)]
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            pass_fds=(result.fileno(), read_fd), start_new_session=True, preexec_fn=_preexec(limits),
            user=uid if os.geteuid() == 0 else None, group=uid if os.geteuid() == 0 else None,
            extra_groups=[] if os.geteuid() == 0 else None, cwd="/",
        )  # fmt: skip
        os.close(read_fd)
        return _wait(proc, limits.wall_seconds)


def _private(path: Path) -> BinaryIO:
    """A new file only its owner may open: the job writes through the descriptor it is given."""
    return open(path, "wb", opener=lambda p, flags: os.open(p, flags, 0o600))


def _wait(proc: subprocess.Popen[bytes], wall_seconds: float) -> bool:
    try:
        proc.wait(timeout=wall_seconds)
        return False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # bwrap and, through --die-with-parent, its PID namespace
        proc.wait()
        return True


def _isolation(limits: Limits) -> dict[str, Any]:
    return {"boundary": "bubblewrap", "uid": JOB_UID, "host_uid": _host_uid(limits), "seccomp": True,
            "namespaces": ["user", "mount", "pid", "net", "ipc", "uts", "cgroup"], "no_new_privs": True,
            "rlimits": {"cpu_seconds": limits.cpu_seconds, "memory_bytes": limits.memory_bytes,
                        "processes": limits.processes, "file_bytes": limits.output_bytes}}  # fmt: skip


def _signal_reason(sig: int, limits: Limits) -> tuple[str, str]:
    if sig == signal.SIGSYS:
        return "denied", "the algorithm made a system call the sandbox forbids (it was killed by SIGSYS)"
    if sig == signal.SIGXFSZ:
        return (
            "limit",
            f"the algorithm wrote a file larger than the output limit of {limits.output_bytes:,} bytes",
        )
    if sig in (signal.SIGXCPU, signal.SIGKILL):
        return "limit", f"the algorithm used more than the CPU limit of {limits.cpu_seconds} s"
    return "error", f"the algorithm was ended by signal {signal.Signals(sig).name}"


def _verdict(
    report: RunnerReport, timed_out: bool, limits: Limits, log: bytes
) -> tuple[str, str | None, int | None]:
    if timed_out:
        return "limit", f"the algorithm ran past the time limit of {limits.wall_seconds:g} s", None
    if report.ended is None or not report.complete:
        return "error", "the sandbox ended before the job reported (see the log)", None
    if "files" in report.ended:
        return "limit", f"the algorithm made more than {limits.files:,} files in /out and /tmp", None
    if "signal" in report.ended:
        status, reason = _signal_reason(report.ended["signal"], limits)
        return status, reason, -report.ended["signal"]
    code = report.ended["exit"]
    if code == 0:
        return "finished", None, 0
    if code == _EXIT_TOO_BIG:
        space = f"/out holds {limits.output_bytes:,} bytes and /tmp {limits.tmp_bytes:,}"
        return "limit", f"the algorithm wrote more than its space allows ({space})", code
    tail = log[-4096:]
    if b"MemoryError" in tail:
        return "limit", f"the algorithm ran out of its memory limit of {limits.memory_bytes:,} bytes", code
    if b"[Errno 1] Operation not permitted" in tail:
        return "denied", _REFUSED, code
    return "error", f"the algorithm failed (exit code {code}); see the log", code


def unseal(folder: Path) -> None:
    """Make a finished job's folder removable again (by a node that is not root)."""
    for dirpath, _dirnames, _filenames in os.walk(folder):
        os.chmod(dirpath, 0o755)
