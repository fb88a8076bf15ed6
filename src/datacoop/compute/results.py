"""Read what a job's runner handed back (how the job ended, then its /out files) into a host folder.

The stream comes from inside the sandbox, so it is read as hostile input: at most ``limit``
bytes of files in all, names that are relative, short and without ``..``, files created with
``O_EXCL | O_NOFOLLOW`` in folders this process made. A name or header that breaks a rule ends
the reading with a problem that the service shows the buyer as the reason nothing was released.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

__all__ = ["RunnerReport", "read_report"]

MAX_NAME, MAX_DEPTH, MAX_FILES = 200, 8, 10_000


@dataclass
class RunnerReport:
    """How the job ended (``None`` when the runner never said), what it wrote, and any problem seen."""

    ended: dict[str, int] | None = None
    files: list[str] = field(default_factory=list)
    problem: str | None = None
    complete: bool = False


def _header(stream: BinaryIO) -> dict[str, Any] | None:
    line = stream.readline(4096)
    if not line.endswith(b"\n"):
        return None
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _safe_name(name: object) -> PurePosixPath | None:
    if not isinstance(name, str) or not name or len(name) > MAX_NAME or "\x00" in name:
        return None
    path = PurePosixPath(name)
    if path.is_absolute() or any(p in ("..", ".", "") for p in path.parts) or len(path.parts) > MAX_DEPTH:
        return None
    return path


def _store(stream: BinaryIO, out_dir: Path, rel: PurePosixPath, size: int) -> bool:
    folder = out_dir
    for part in rel.parts[:-1]:
        folder = folder / part
        folder.mkdir(mode=0o700, exist_ok=True)
    fd = os.open(folder / rel.parts[-1], os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as f:
        left = size
        while left:
            chunk = stream.read(min(left, 1 << 20))
            if not chunk:
                return False
            f.write(chunk)
            left -= len(chunk)
    return True


def _file(stream: BinaryIO, head: dict[str, Any], out_dir: Path, report: RunnerReport, left: int) -> int:
    rel, size = _safe_name(head.get("name")), head.get("size")
    if rel is None or not isinstance(size, int) or size < 0 or size > left:
        report.problem = f"output {str(head.get('name'))[:MAX_NAME]!r} has a name or size that is not allowed"
        return -1
    if not head.get("regular"):
        report.problem = f"output {str(rel)!r} is not a regular file (links and devices are not released)"
        return -1
    if size != head.get("real_size"):
        report.problem = f"output {str(rel)!r} does not fit in the output limit"
        return -1
    if str(rel) in report.files or not _store(stream, out_dir, rel, size):
        report.problem = f"output {str(rel)!r} came back twice or cut short"
        return -1
    report.files.append(str(rel))
    return left - size


def read_report(path: Path, out_dir: Path, limit: int) -> RunnerReport:
    """Parse the runner's result file into ``out_dir`` (which must be empty)."""
    report = RunnerReport()
    with path.open("rb") as stream:
        first = _header(stream)
        if first is None or not ({"exit", "signal"} & first.keys()):
            return report
        report.ended = {k: int(v) for k, v in first.items() if k in ("exit", "signal", "files", "cpu_ms")}
        left = limit
        while (head := _header(stream)) is not None and len(report.files) < MAX_FILES:
            if head.get("end") is True:
                report.complete = True
                break
            left = _file(stream, head, out_dir, report, left)
            if left < 0:
                break
    return report
