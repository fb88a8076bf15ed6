"""Run a buyer's algorithm next to the data, in a child process that can do little else.

Layers, outermost first (each holds without the next):

* a fresh working folder; the data materialised read-only (files 0444 in 0555 folders);
* a new network namespace (``unshare(CLONE_NEWNET)``: no interface but a down loopback),
  where the kernel lets us (root, or CAP_SYS_ADMIN);
* another user: ``nobody``, or uid 0 stripped of every capability (see :class:`Isolation`);
* resource limits: CPU seconds, address space, file size (= the output limit), processes,
  open files; a wall-clock limit that kills the whole process group; no new privileges;
* an empty environment (no credentials, no proxies, one BLAS thread);
* an audit hook installed before the algorithm is imported (``_bootstrap.py``).

:attr:`SandboxResult.isolation` says which layers actually applied on this machine.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import json
import os
import pwd
import resource
import shutil
import signal
import stat
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "DENIED_EXIT",
    "Isolation",
    "Limits",
    "SandboxResult",
    "network_namespace_available",
    "plan_isolation",
    "prepare_dirs",
    "run_sandboxed",
    "seal_read_only",
    "unseal",
]

DENIED_EXIT = 86
_CLONE_NEWNET = 0x40000000
_PR_CAPBSET_DROP, _PR_SET_NO_NEW_PRIVS = 24, 38
_BOOTSTRAP = Path(__file__).with_name("_bootstrap.py")


@dataclass(frozen=True)
class Limits:
    """What one job may use."""

    cpu_seconds: int = 60
    wall_seconds: float = 120
    memory_bytes: int = 2 * 1024**3
    output_bytes: int = 10 * 1024**2
    processes: int = 64  # threads count: BLAS and the interpreter start a few
    open_files: int = 256


@dataclass
class SandboxResult:
    """How the child ended: ``finished`` (entry point returned), ``denied``, ``limit`` or ``error``."""

    status: str
    reason: str | None
    exit_code: int | None
    log: bytes
    seconds: float
    isolation: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Isolation:
    """Which user the child runs as, and who owns its read-only data.

    ``nobody``: DataCoop runs as root and the interpreter is reachable by others: the child
    switches to nobody. ``root-without-capabilities``: root, but the interpreter sits where
    nobody cannot reach it (e.g. under /root): the child keeps uid 0 with every capability
    dropped and the data belongs to nobody, so it can neither write nor chmod the data.
    ``same``: DataCoop is not root; the child runs as us (the audit hook refuses writes to the data).
    """

    user: str
    uid: int
    gid: int
    network_namespace: bool
    data_owner: tuple[int, int] | None

    def as_dict(self) -> dict[str, Any]:
        return {"user": self.user, "uid": self.uid, "network_namespace": self.network_namespace,
                "audit_hook": True, "rlimits": True}  # fmt: skip


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


@functools.cache
def network_namespace_available() -> bool:
    """Whether a child may enter a new network namespace here (probed once, in a throwaway child)."""
    if not sys.platform.startswith("linux"):
        return False
    probe = "import ctypes, ctypes.util, sys; libc = ctypes.CDLL(ctypes.util.find_library('c'))\n"
    probe += f"sys.exit(0 if libc.unshare({_CLONE_NEWNET}) == 0 else 1)"
    done = subprocess.run([sys.executable, "-I", "-c", probe], check=False, capture_output=True)
    return done.returncode == 0


def _reachable_by_others(path: Path) -> bool:
    for part in [path, *path.parents]:
        need = stat.S_IROTH | stat.S_IXOTH if part == path else stat.S_IXOTH
        if part.stat().st_mode & need != need:
            return False
    return True


def plan_isolation() -> Isolation:
    """What this machine allows: probed, so a test can assert what actually applied."""
    netns = network_namespace_available()
    if os.geteuid() != 0:
        return Isolation("same", os.geteuid(), os.getegid(), netns, None)
    try:
        entry = pwd.getpwnam("nobody")
        nobody = (entry.pw_uid, entry.pw_gid)
    except KeyError:
        nobody = (65534, 65534)
    interpreter = Path(os.path.realpath(sys.executable))
    stdlib = Path(os.path.realpath(os.path.dirname(os.__file__)))
    if _reachable_by_others(interpreter) and _reachable_by_others(stdlib):
        return Isolation("nobody", *nobody, netns, None)
    return Isolation("root-without-capabilities", 0, 0, netns, nobody)


def _preexec(limits: Limits, plan: Isolation) -> Any:
    libc = _libc()

    def setup() -> None:  # runs in the child between fork and exec
        if plan.network_namespace and libc.unshare(_CLONE_NEWNET) != 0:
            os._exit(DENIED_EXIT + 1)  # promised isolation could not be had: do not run without it
        cpu = limits.cpu_seconds
        rlimits = [
            (resource.RLIMIT_CPU, (cpu, cpu + 1)),
            (resource.RLIMIT_AS, (limits.memory_bytes,) * 2),
            (resource.RLIMIT_FSIZE, (limits.output_bytes,) * 2),
            (resource.RLIMIT_NOFILE, (limits.open_files,) * 2),
            (resource.RLIMIT_CORE, (0, 0)),
        ]
        if plan.user == "nobody":  # counted per user: for uid 0 it would count every root process
            rlimits.append((resource.RLIMIT_NPROC, (limits.processes,) * 2))
        for res, value in rlimits:
            resource.setrlimit(res, value)
        if plan.user == "root-without-capabilities":
            for cap in range(64):  # empty the bounding set: exec then grants uid 0 no capability
                if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
                    break
        libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        if plan.user == "nobody":
            os.setgroups([])
            os.setgid(plan.gid)
            os.setuid(plan.uid)
        os.umask(0o022)

    return setup


def _environment(tmp: Path) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp),
        "TMPDIR": str(tmp),
        "LANG": "C.UTF-8",
        **{k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")},
    }


def prepare_dirs(root: Path, plan: Isolation) -> dict[str, Path]:
    """The job's folders: algo and data (sealed later), out and tmp the child's own."""
    dirs = {name: root / name for name in ("algo", "data", "out", "tmp")}
    root.chmod(0o755)
    for name, path in dirs.items():
        path.mkdir(exist_ok=True)
        if name in ("out", "tmp"):
            path.chmod(0o700)
            if plan.user == "nobody":
                os.chown(path, plan.uid, plan.gid)
    return dirs


def seal_read_only(folder: Path, plan: Isolation) -> None:
    """Files 0444, folders 0555 (bottom up), owned by a user the child cannot act for."""
    for dirpath, _dirnames, filenames in os.walk(folder, topdown=False):
        for name in [*filenames, "."]:
            path = os.path.join(dirpath, name)
            if plan.data_owner is not None:
                os.chown(path, *plan.data_owner)
            os.chmod(path, 0o555 if name == "." else 0o444)


def unseal(folder: Path) -> None:
    """Make a finished job's folder removable again."""
    for dirpath, _dirnames, _filenames in os.walk(folder):
        os.chmod(dirpath, 0o755)


def run_sandboxed(
    root: Path, entry: str, limits: Limits, plan: Isolation, *, log_limit: int = 1 << 20
) -> SandboxResult:
    """Run ``entry`` (``module:function``) from ``root/algo`` over ``root/data`` into ``root/out``.

    ``root`` comes from :func:`prepare_dirs` with the same ``plan``, its data and algo sealed.
    """
    dirs = {name: root / name for name in ("algo", "data", "out", "tmp")}
    shutil.copyfile(_BOOTSTRAP, root / "_bootstrap.py")
    (root / "_bootstrap.py").chmod(0o444)
    read_fd, write_fd = os.pipe()
    config = {f"{k}_dir": str(v) for k, v in dirs.items()} | {"entry": entry, "status_fd": write_fd}
    log_path = root / "log.txt"
    started = time.monotonic()
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-B", str(root / "_bootstrap.py"), json.dumps(config)],
            cwd=dirs["tmp"], env=_environment(dirs["tmp"]), stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, pass_fds=(write_fd,), start_new_session=True,
            preexec_fn=_preexec(limits, plan),
        )  # fmt: skip
        os.close(write_fd)
        timed_out = _wait(proc, limits.wall_seconds)
    seconds = time.monotonic() - started
    with os.fdopen(read_fd, "rb") as status_pipe:
        status_lines = status_pipe.read(1 << 16).decode("utf-8", "replace").splitlines()
    log_bytes = _tail(log_path, log_limit)
    code = proc.returncode
    return _result(code, timed_out, status_lines, limits, log_bytes, seconds, plan.as_dict())


def _wait(proc: subprocess.Popen[bytes], wall_seconds: float) -> bool:
    try:
        proc.wait(timeout=wall_seconds)
        return False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the whole group: anything it started goes too
        proc.wait()
        return True


def _tail(path: Path, limit: int) -> bytes:
    with path.open("rb") as f:
        f.seek(max(path.stat().st_size - limit, 0))
        return f.read()


_DENIAL_TEXT = {
    "network": "network access is not allowed",
    "read": "reading outside the job's data is not allowed",
    "write": "writing outside the job's output folder is not allowed",
    "process": "starting another process is not allowed",
    "native": "loading native code (ctypes/cffi) is not allowed",
}


def _reason_for_signal(sig: int, limits: Limits) -> str:
    if sig == signal.SIGXFSZ:
        return f"the algorithm wrote a file larger than the output limit of {limits.output_bytes:,} bytes"
    if sig in (signal.SIGXCPU, signal.SIGKILL):
        return f"the algorithm used more than the CPU limit of {limits.cpu_seconds} s"
    return f"the algorithm was ended by signal {signal.Signals(sig).name}"


def _statuses(lines: list[str]) -> list[dict[str, Any]]:
    found = []
    for line in lines:
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            found.append(value)
    return found


def _result(
    code: int, timed_out: bool, status_lines: list[str], limits: Limits, log: bytes, seconds: float,
    isolation: dict[str, Any],
) -> SandboxResult:  # fmt: skip
    statuses = _statuses(status_lines)
    denied = next((s for s in statuses if "denied" in s), None)
    if timed_out:
        status, reason = "limit", f"the algorithm ran past the time limit of {limits.wall_seconds:g} s"
    elif denied is not None or code == DENIED_EXIT:
        kind = str(denied.get("denied")) if denied else "unknown"
        what = f" ({denied.get('what')})" if denied else ""
        status, reason = "denied", _DENIAL_TEXT.get(kind, "the sandbox stopped the algorithm") + what
    elif code == DENIED_EXIT + 2 or any("limit" in s for s in statuses):
        status, reason = "limit", _reason_for_signal(signal.SIGXFSZ, limits)
    elif code == DENIED_EXIT + 1:
        status, reason = "error", "the sandbox could not be set up (network namespace refused)"
    elif code < 0:
        status, reason = "limit", _reason_for_signal(-code, limits)
    elif code == 0 and {"done": True} in statuses:
        status, reason = "finished", None
    elif b"MemoryError" in log[-4096:]:
        status, reason = (
            "limit",
            f"the algorithm ran out of its memory limit of {limits.memory_bytes:,} bytes",
        )
    else:
        status, reason = "error", f"the algorithm failed (exit code {code}); see the log"
    return SandboxResult(status, reason, code, log, seconds, isolation)
