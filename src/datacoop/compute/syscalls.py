"""The sandbox's system-call filters and the host's isolation prerequisites, checked up front.

Two seccomp programs, compiled by libseccomp through Debian's ``python3-seccomp`` (the system
interpreter, in a subprocess: see ``_seccomp_gen.py`` for why): ``outer`` covers every process
of a job's sandbox (loaded by bubblewrap), ``inner`` is added by the runner for the buyer's
code alone (no exec, no fork; threads are fine). Whatever is missing, :func:`require_isolation`
raises :class:`~datacoop.errors.Unavailable` naming the piece: a job never runs with less.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from datacoop.errors import Unavailable

__all__ = ["Filters", "Prerequisites", "require_isolation", "seccomp_filters"]

SYSTEM_PYTHON = Path("/usr/bin/python3")
_GENERATOR = Path(__file__).with_name("_seccomp_gen.py")
_USERNS_LIMIT = Path("/proc/sys/user/max_user_namespaces")


@dataclass(frozen=True)
class Filters:
    """Classic-BPF programs (``struct sock_filter`` arrays), ready for ``bwrap --seccomp`` or prctl."""

    outer: bytes
    inner: bytes


@dataclass(frozen=True)
class Prerequisites:
    """What this host gives the sandbox: bubblewrap's path and the compiled filters."""

    bwrap: str
    filters: Filters


def _missing(piece: str, fix: str) -> Unavailable:
    return Unavailable(f"compute jobs cannot run: {piece} ({fix})", field="compute.sandbox")


@functools.cache
def seccomp_filters(python: Path = SYSTEM_PYTHON) -> Filters:
    """Compile the filters once per process.

    Raises:
        Unavailable: the system Python or its libseccomp bindings are missing.
    """
    if not python.exists():
        raise _missing(f"{python} is missing", "apt-get install python3 python3-seccomp")
    done = subprocess.run(
        [str(python), "-I", str(_GENERATOR)], capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode != 0:
        what = done.stderr.strip().splitlines()[-1:] or ["no output"]
        raise _missing(
            f"libseccomp could not compile the filter: {what[0]}", "apt-get install python3-seccomp"
        )
    programs = json.loads(done.stdout)
    return Filters(bytes.fromhex(programs["outer"]), bytes.fromhex(programs["inner"]))


def _user_namespaces() -> bool:
    try:
        return int(_USERNS_LIMIT.read_text().strip()) > 0
    except (OSError, ValueError):
        return False


def require_isolation() -> Prerequisites:
    """Bubblewrap, user namespaces and libseccomp, or an :class:`Unavailable` that names the missing one."""
    if not os.uname().sysname == "Linux":
        raise _missing(
            "the kernel is not Linux (namespaces and seccomp are Linux's)", "run the worker on Linux"
        )
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise _missing("bubblewrap (bwrap) is not installed", "apt-get install bubblewrap")
    if not _user_namespaces():
        raise _missing("the kernel allows no user namespaces", "sysctl user.max_user_namespaces=10000")
    return Prerequisites(bwrap, seccomp_filters())
