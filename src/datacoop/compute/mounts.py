"""The job's root filesystem, built for each job: what bubblewrap mounts, and nothing else of the host.

Inside the sandbox a job sees::

    /usr/lib /usr/lib64 (/lib /lib64 links)   shared libraries and the interpreter's standard library (ro)
    <the interpreter>                          the Python that runs the job (ro)
    /site/<name>                               each allow-listed package the job asked for, and its needs (ro)
    /algo  /data                               the algorithm and the licensed version's items (ro)
    /sandbox/runner.py                         the runner (ro)
    /out  /tmp                                 empty tmpfs of a fixed size, the job's own
    /proc /dev                                 a procfs of the job's PID namespace; null, zero, urandom …

The interpreter must be readable by the sandbox's unprivileged uid: the environment's own base
interpreter when it is, else the system's of the same version (their C ABIs match).
"""

from __future__ import annotations

import importlib.metadata as metadata
import os
import re
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

from datacoop.errors import Unavailable

__all__ = ["SITE", "Interpreter", "choose_interpreter", "package_mounts"]

SITE = "/site"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class Interpreter:
    """A Python the sandbox can run: its executable and the folders to mount read-only."""

    executable: str
    mounts: tuple[str, ...]
    stdlib_paths: tuple[str, ...]


def _reachable_by_others(path: Path) -> bool:
    for part in [path, *path.parents]:
        need = stat.S_IROTH | stat.S_IXOTH if part == path else stat.S_IXOTH
        if part.stat().st_mode & need != need:
            return False
    return True


def _interpreter_at(executable: Path) -> Interpreter:
    prefix = executable.parent.parent
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    lib = prefix / "lib" / version
    stdlib = (str(lib), str(lib / "lib-dynload"))
    mounts = (str(executable),) if prefix == Path("/usr") else (str(prefix),)
    return Interpreter(str(executable), mounts, stdlib)


def choose_interpreter() -> Interpreter:
    """This environment's base Python if others may run it, else ``/usr/bin/pythonX.Y``.

    Raises:
        Unavailable: neither is readable by an unprivileged uid.
    """
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [Path(sys.base_prefix) / "bin" / version, Path("/usr/bin") / version]
    for executable in candidates:
        real = Path(os.path.realpath(executable))
        if real.exists() and _reachable_by_others(real) and _reachable_by_others(real.parent.parent / "lib"):
            return _interpreter_at(real)
    raise Unavailable(
        f"compute jobs cannot run: no {version} readable by an unprivileged user "
        f"(tried {', '.join(map(str, candidates))}; apt-get install {version})",
        field="compute.sandbox",
    )


def _requires(dist: metadata.Distribution) -> list[str]:
    names = []
    for line in dist.requires or []:
        if "extra ==" in line or "extra==" in line:
            continue
        match = _NAME.match(line.strip())
        if match:
            names.append(match.group(0))
    return names


def _closure(names: list[str]) -> list[metadata.Distribution]:
    seen: dict[str, metadata.Distribution] = {}
    todo = list(names)
    while todo:
        name = todo.pop()
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise Unavailable(
                f"package {name!r} is on the allow-list but not installed beside DataCoop",
                field="compute.allowed_requirements",
            ) from None
        key = dist.metadata["Name"].lower()
        if key not in seen:
            seen[key] = dist
            todo.extend(_requires(dist))
    return list(seen.values())


def package_mounts(requirements: list[str]) -> dict[str, str]:
    """Host path → path under :data:`SITE` for each top-level file or folder of the packages needed."""
    found: dict[str, str] = {}
    for dist in _closure(requirements):
        for file in dist.files or []:
            top = file.parts[0]
            if top in ("..", "") or top.endswith(".pth") or top == "__pycache__":
                continue
            host = Path(os.path.realpath(str(dist.locate_file(top))))
            if host.exists() and _reachable_by_others(host):
                found[str(host)] = f"{SITE}/{top}"
    return found
