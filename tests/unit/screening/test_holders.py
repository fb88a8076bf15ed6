"""A lease holder is taken for gone only when that is proven: same host, and its process runs no more."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from datacoop.holders import holder_name, is_gone


def _sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])


def _name_of(proc: subprocess.Popen[bytes]) -> str:
    """The holder name ``proc`` would give itself."""
    host, boot, _pid, _start = holder_name().rsplit(":", 3)
    start = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    return f"{host}:{boot}:{proc.pid}:{start}/0"


def test_a_running_process_is_not_gone() -> None:
    proc = _sleeper()
    try:
        assert not is_gone(holder_name("/1")) and not is_gone(_name_of(proc))
    finally:
        proc.kill()
        proc.wait()


def test_a_killed_process_is_gone_reaped_or_zombie() -> None:
    # Prepare
    reaped, zombie = _sleeper(), _sleeper()
    names = (_name_of(reaped), _name_of(zombie))
    # Execute: both SIGKILLed; one left unreaped (a zombie until its parent waits)
    for proc in (reaped, zombie):
        os.kill(proc.pid, signal.SIGKILL)
    reaped.wait()
    os.waitid(os.P_PID, zombie.pid, os.WEXITED | os.WNOWAIT)  # dead, not yet reaped
    # Assert
    assert is_gone(names[0]) and is_gone(names[1])
    zombie.wait()


def test_a_reused_pid_with_another_start_time_is_gone() -> None:
    host, boot, pid, start = holder_name().rsplit(":", 3)
    assert is_gone(f"{host}:{boot}:{pid}:{int(start) - 1}/0")  # this pid, but not this process


def test_another_boot_of_this_host_is_gone_but_another_host_is_not() -> None:
    host, boot, pid, start = holder_name().rsplit(":", 3)
    assert is_gone(f"{host}:00000000-0000-0000-0000-000000000000:{pid}:{start}")
    assert not is_gone(f"elsewhere.example:{boot}:999999:1/0")


def test_names_that_prove_nothing_are_never_gone() -> None:
    host = holder_name().rsplit(":", 3)[0]
    for name in (f"{host}:999999/0", f"{host}:-:999999:-/0", "", "w", f"{host}:x:y:z"):
        assert not is_gone(name), name
