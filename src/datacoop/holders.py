"""Names of lease holders that say whether the process behind them still runs.

Shared by every lease a process can hold: a pre-screening job's (``screening_jobs.worker``) and
the outbox's (``chain_leases.holder``). A holder's name is ``host:boot_id:pid:start_time`` (a
worker adds ``/thread``): the kernel's boot id and the process's start time (clock ticks since
boot, ``/proc/<pid>/stat``) make it unique for the life of the machine, so a lease left by a
killed process (``kill -9``, OOM) can be taken over at once by another on the same host instead
of after the lease runs out. A holder is *gone* only when that is proven: same host, and another
boot, or its pid is free, a zombie, or reused by a process started at another time. A holder on
another host, or a name without these parts (an older node, a system without ``/proc``), is
never taken for gone: its lease runs out."""

from __future__ import annotations

import os
import socket
from pathlib import Path

__all__ = ["holder_name", "is_gone"]

_PROC = Path("/proc")
_UNKNOWN = "-"


def _host() -> str:
    return socket.gethostname()[:40].replace("/", "_")  # the name must fit screening_jobs.worker (100)


def _boot_id() -> str:
    try:
        return (_PROC / "sys/kernel/random/boot_id").read_text().strip() or _UNKNOWN
    except OSError:
        return _UNKNOWN


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot; None when no live process has ``pid``."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # the command name in parentheses may hold spaces
    state, start = fields[0], fields[19]  # fields 3 and 22 of proc_pid_stat(5)
    return None if state in ("Z", "X") else start  # a zombie has run its last instruction


def holder_name(suffix: str = "") -> str:
    """This process's holder name, ``host:boot_id:pid:start_time`` followed by ``suffix``."""
    pid = os.getpid()
    return f"{_host()}:{_boot_id()}:{pid}:{_start_time(pid) or _UNKNOWN}{suffix}"


def is_gone(name: str) -> bool:
    """True only when the holder ``name`` provably runs no more (see the module's notes)."""
    parts = name.split("/", 1)[0].rsplit(":", 3)
    if len(parts) != 4 or not parts[2].isdigit() or _UNKNOWN in (parts[1], parts[3]):
        return False
    host, boot, pid, start = parts
    if host != _host() or _boot_id() == _UNKNOWN:
        return False
    if boot != _boot_id():
        return True  # the machine restarted since: every process of that boot is gone
    return _start_time(int(pid)) != start
