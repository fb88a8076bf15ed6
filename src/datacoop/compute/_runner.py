"""Runs inside a job's sandbox (standard library only): forks the buyer's code, then hands back /out.

Started by bubblewrap as ``python -I -S -B /sandbox/runner.py CONFIG_JSON`` with the result file
open on the descriptor the config names. The runner makes itself undumpable (so the job, the
same uid, cannot open its ``/proc`` files or memory), forks, and in the child closes that
descriptor, adds the ``inner`` seccomp program (no exec, no fork) and only then imports the
buyer's entry point. When the child has ended the runner writes, to that descriptor: one JSON
line with how it ended, then each regular file of ``/out`` as a JSON header line and its bytes,
then ``{"end": true}``.
Nothing here is trusted for confinement: the namespaces, the outer filter and the limits hold
whatever the job does to this process.
"""

import ctypes
import errno
import importlib
import json
import os
import resource
import signal
import stat
import sys
import time
import traceback
from typing import Any, NoReturn

PR_SET_DUMPABLE, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 4, 22, 2
EXIT_TOO_BIG = 87  # the job filled /out or /tmp, or hit the file-size limit (Python sees EFBIG, not SIGXFSZ)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]


def _load_filter(program: bytes) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    prog = _SockFprog(len(program) // 8, program)
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "the inner seccomp filter could not be loaded")


def _child(cfg: dict[str, Any]) -> None:
    os.close(cfg["result_fd"])
    ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # the job's own /proc/self stays readable to it
    _load_filter(bytes.fromhex(cfg["inner_filter"]))
    sys.path[:] = [*cfg["sys_path"], "/algo"]
    os.chdir("/tmp")
    module_name, _, func_name = cfg["entry"].partition(":")
    entry = getattr(importlib.import_module(module_name), func_name or "run")
    try:
        entry("/data", "/out")
    except OSError as exc:
        if exc.errno not in (errno.EFBIG, errno.ENOSPC):
            raise
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(EXIT_TOO_BIG)


def _run_child(cfg: dict[str, Any]) -> NoReturn:
    code = 0
    try:
        _child(cfg)
    except BaseException:  # the job's failure, shown in its log
        traceback.print_exc()
        code = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)


def _write(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _header(name: str, regular: bool, size: int, real_size: int) -> bytes:
    head = {"name": name, "regular": regular, "size": size, "real_size": real_size}
    return (json.dumps(head) + "\n").encode()


def _send_outputs(fd: int, limit: int) -> None:
    sent = 0
    for dirpath, dirnames, filenames in os.walk("/out", followlinks=False):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            info = os.lstat(path)
            regular = stat.S_ISREG(info.st_mode)
            size = info.st_size if regular and sent + info.st_size <= limit else 0
            _write(fd, _header(os.path.relpath(path, "/out"), regular, size, info.st_size))
            if size:
                with open(path, "rb") as f:
                    _write(fd, f.read(size))
                sent += size


def _files_in_use() -> int:
    """Files and folders in /out and /tmp (tmpfs caps their bytes, not their count; each costs memory)."""
    used = 0
    for path in ("/out", "/tmp"):
        info = os.statvfs(path)
        used += info.f_files - info.f_ffree
    return used


def _ended(status: int, usage: resource.struct_rusage) -> dict[str, int]:
    how = {"exit": os.WEXITSTATUS(status)} if os.WIFEXITED(status) else {"signal": os.WTERMSIG(status)}
    return how | {
        "cpu_ms": int((usage.ru_utime + usage.ru_stime) * 1000)
    }  # a per-CPU-second licence bills it


def _watch(pid: int, max_files: int) -> dict[str, int]:
    """Wait for the child, ending it if it makes more files than allowed."""
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            return _ended(status, usage)
        if _files_in_use() > max_files:
            os.kill(pid, signal.SIGKILL)
            _, status, usage = os.wait4(pid, 0)
            return _ended(status, usage) | {"files": max_files}
        time.sleep(0.01)


def main() -> None:
    cfg = json.loads(sys.argv[1])
    ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    pid = os.fork()
    if pid == 0:
        _run_child(cfg)
    ended = _watch(pid, int(cfg["max_files"]))
    fd = cfg["result_fd"]
    _write(fd, (json.dumps(ended) + "\n").encode())
    _send_outputs(fd, int(cfg["output_bytes"]))
    _write(fd, b'{"end": true}\n')


if __name__ == "__main__":
    main()
