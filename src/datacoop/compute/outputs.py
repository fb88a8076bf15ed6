"""Checks on a finished job's outputs before anything is released to the buyer."""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from datacoop.compute.fingerprints import Fingerprints

__all__ = ["OutputFile", "OutputLimits", "OutputVerdict", "check_outputs", "scrub_log"]

_NPY_MAGIC = b"\x93NUMPY"


@dataclass(frozen=True)
class OutputLimits:
    max_bytes: int = 10 * 1024**2
    max_files: int = 16
    types: tuple[str, ...] = (".json", ".csv", ".txt", ".npy")  # no archives or images: they re-encode


@dataclass(frozen=True)
class OutputFile:
    name: str  # relative to the output folder, '/'-separated
    path: Path
    size: int


@dataclass(frozen=True)
class OutputVerdict:
    released: bool
    reason: str | None
    files: tuple[OutputFile, ...]


def _withheld(reason: str) -> OutputVerdict:
    return OutputVerdict(False, reason, ())


def _content_problem(path: Path, suffix: str) -> str | None:
    data = path.read_bytes()
    if suffix == ".npy":
        return None if data.startswith(_NPY_MAGIC) else "is not a NumPy .npy file"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return "is not UTF-8 text"
    if suffix == ".json":
        try:
            json.loads(text)
        except ValueError:
            return "is not valid JSON"
    return None


def _walk(out_dir: Path) -> tuple[list[OutputFile], str | None]:
    found: list[OutputFile] = []
    for dirpath, dirnames, filenames in os.walk(out_dir, followlinks=False):
        for name in sorted(dirnames + filenames):
            path = Path(dirpath) / name
            info = path.lstat()
            rel = path.relative_to(out_dir).as_posix()
            if stat.S_ISDIR(info.st_mode):
                continue
            if not stat.S_ISREG(info.st_mode):
                return [], f"output {rel!r} is not a regular file (links and devices are not released)"
            found.append(OutputFile(rel, path, info.st_size))
    return found, None


def check_outputs(out_dir: Path, limits: OutputLimits, prints: Fingerprints) -> OutputVerdict:
    """Release the outputs only if they are within the limits, of allowed types, and copy no input."""
    files, problem = _walk(out_dir)
    if problem:
        return _withheld(problem)
    if not files:
        return _withheld("the algorithm wrote no output")
    if len(files) > limits.max_files:
        return _withheld(f"the outputs are {len(files)} files, over the limit of {limits.max_files} files")
    total = sum(f.size for f in files)
    if total > limits.max_bytes:
        return _withheld(
            f"the outputs total {total:,} bytes, over the output limit of {limits.max_bytes:,} bytes"
        )
    for f in files:
        suffix = f.path.suffix.lower()
        if suffix not in limits.types:
            return _withheld(
                f"output {f.name!r}: type {suffix or '(none)'} is not one of {', '.join(limits.types)}"
            )
        if (bad := _content_problem(f.path, suffix)) is not None:
            return _withheld(f"output {f.name!r} {bad}")
        if (match := prints.find(f.path.read_bytes())) is not None:
            return _withheld(
                f"output {f.name!r} contains bytes of input item {match.input_name!r} "
                f"(at offset {match.output_offset}): raw items may not leave the node"
            )
    return OutputVerdict(True, None, tuple(files))


def scrub_log(log: bytes, root: Path, prints: Fingerprints, limit: int) -> str:
    """The log a buyer may read: the job's paths hidden, no input bytes, at most ``limit`` characters."""
    if prints.find(log) is not None:
        return "[log withheld: it contains bytes of an input item]"
    text = log.decode("utf-8", "replace").replace(str(root), "<job>")
    text = "".join(c for c in text if c in "\n\t" or c.isprintable())
    if len(text) > limit:
        text = f"[... {len(text) - limit} characters cut ...]\n" + text[-limit:]
    return text
