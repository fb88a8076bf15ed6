"""Runs first inside the sandbox, then calls the buyer's entry point (standard library only).

Started as ``python -I -B _bootstrap.py CONFIG_JSON``. Before any of the buyer's code is
imported it installs an audit hook (PEP 578) that cannot be removed: a socket, a new
process, ctypes/cffi loading, or an open() outside the job's folders ends the process at
once (exit 86) after writing why to the status descriptor. It is defence in depth: the
network namespace, the unprivileged user and the resource limits hold without it.
"""

import ctypes  # noqa: F401  imported before the hook: its own start-up loads the C library
import errno
import importlib
import json
import os
import site
import sys
from typing import Any

DENIED_EXIT = 86
_BLOCKED = ("subprocess.Popen", "os.system", "os.fork", "os.forkpty", "os.posix_spawn", "os.posix_spawnp",
            "os.startfile", "pty.spawn", "ctypes.dlopen", "ctypes.dlsym", "ctypes.dlsym/handle",
            "ctypes.cdata", "ctypes.call_function", "sys.remote_exec", "winreg.OpenKey")  # fmt: skip
_BLOCKED_PREFIXES = ("socket.", "os.exec", "os.spawn")
_BLOCKED_MODULES = frozenset({"_cffi_backend", "cffi"})  # sockets are stopped when one is made
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def _under(path: str, roots: tuple[str, ...]) -> bool:
    return any(path == r or path.startswith(r + os.sep) for r in roots)


def _install(cfg: dict[str, Any]) -> str:
    status_fd = cfg["status_fd"]
    names = ("data_dir", "out_dir", "tmp_dir", "algo_dir")
    data, out, tmp, algo = (os.path.realpath(str(cfg[k])) for k in names)
    libs = {
        os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, *site.getsitepackages())
    }
    system = (  # what libraries read as they start (CPU count, thread pools, time zone)
        "/proc/stat",
        "/proc/cpuinfo",
        "/proc/meminfo",
        f"/proc/{os.getpid()}",
        "/sys/devices/system/cpu",
        "/sys/fs/cgroup",
        "/usr/share/zoneinfo",
        "/etc/localtime",
    )
    me = os.path.realpath(__file__)
    readable, writable = (data, out, tmp, algo, me, *sorted(libs), *system), (out, tmp)
    devices = {"/dev/null", "/dev/urandom", "/dev/random"}

    # the hook holds its own references: the algorithm may rebind os.path.realpath, not these
    realpath, fsdecode, write_fd, exit_now, dumps, under = (
        os.path.realpath, os.fsdecode, os.write, os._exit, json.dumps, _under
    )  # fmt: skip

    def deny(kind: str, what: str) -> None:
        write_fd(status_fd, (dumps({"denied": kind, "what": what[:300]}) + "\n").encode())
        exit_now(DENIED_EXIT)

    def check_path(raw: object, write: bool, kind: str) -> None:
        if raw is None or isinstance(raw, int):
            return
        path = realpath(fsdecode(raw))  # type: ignore[arg-type]
        if path in devices or under(path, writable if write else readable):
            return
        deny(kind, path)

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "open":
            mode, flags = args[1], args[2] if len(args) > 2 else 0
            write = bool(flags & _WRITE_FLAGS) or (isinstance(mode, str) and any(c in mode for c in "wax+"))
            check_path(args[0], write, "write" if write else "read")
        elif event in ("os.listdir", "os.scandir"):
            check_path(args[0] or ".", False, "read")
        elif event in ("os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod", "os.symlink", "os.link"):
            check_path(args[0], True, "write")
        elif event == "import" and args[0].split(".")[0] in _BLOCKED_MODULES:
            deny("native", f"import {args[0]}")
        elif event.startswith(_BLOCKED_PREFIXES[0]):
            deny("network", event)
        elif event in _BLOCKED or event.startswith(_BLOCKED_PREFIXES[1:]):
            deny("process" if not event.startswith("ctypes") else "native", event)

    # editable installs put source folders on sys.path; the algorithm sees only libraries and itself
    sys.path[:] = [p for p in sys.path if _under(os.path.realpath(p or "."), tuple(libs))]
    sys.addaudithook(hook)
    return algo


def main() -> None:
    cfg = json.loads(sys.argv[1])
    sys.dont_write_bytecode = True
    algo = _install(cfg)
    os.chdir(cfg["tmp_dir"])
    sys.path.insert(0, algo)
    module_name, _, func_name = cfg["entry"].partition(":")
    entry = getattr(importlib.import_module(module_name), func_name or "run")
    try:
        entry(cfg["data_dir"], cfg["out_dir"])
    except OSError as exc:
        if exc.errno != errno.EFBIG:
            raise
        os.write(cfg["status_fd"], b'{"limit": "output"}\n')  # RLIMIT_FSIZE (Python ignores SIGXFSZ)
        os._exit(DENIED_EXIT + 2)
    os.write(cfg["status_fd"], b'{"done": true}\n')


if __name__ == "__main__":
    main()
