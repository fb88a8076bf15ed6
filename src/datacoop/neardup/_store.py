"""Arrays on disk: written atomically, memory-mapped back.

A store directory holds versions and a pointer to the live one::

    index/
      CURRENT            "v-<token>"  (replaced atomically with os.replace)
      v-<token>/
        manifest.json    format number, settings, array names
        <name>.npy       one per array

A save writes a hidden temporary directory, fsyncs it, renames it to its
version name and only then swaps ``CURRENT``; a crash at any point leaves
the previous version live. Older versions are deleted afterwards: a process
that still maps them keeps reading them (POSIX keeps unlinked files alive).
One writer per directory at a time.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from datacoop.errors import InvalidInput, NotFound

FORMAT = 1
POINTER = "CURRENT"
MANIFEST = "manifest.json"


def write_version(path: Path, settings: dict[str, Any], arrays: dict[str, npt.NDArray[Any]]) -> Path:
    """Write ``arrays`` and ``settings`` as the new live version under ``path``; returns its folder."""
    path.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(8)
    staging = path / f".tmp-{token}"
    staging.mkdir()
    for name, array in arrays.items():
        with (staging / f"{name}.npy").open("wb") as out:
            np.save(out, np.ascontiguousarray(array), allow_pickle=False)
            _sync(out)
    manifest = {"format": FORMAT, "settings": settings, "arrays": sorted(arrays)}
    with (staging / MANIFEST).open("w") as out:
        json.dump(manifest, out)
        _sync(out)
    version = path / f"v-{token}"
    staging.rename(version)
    _swap_pointer(path, version.name)
    _remove_old(path, keep=version.name)
    return version


def read_version(path: Path) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
    """Settings and arrays of the live version; arrays are read-only memory maps."""
    pointer = path / POINTER
    if not pointer.is_file():
        raise NotFound(f"no near-duplicate index at {path}", field="path")
    version = path / pointer.read_text().strip()
    manifest = json.loads((version / MANIFEST).read_text())
    if manifest.get("format") != FORMAT:
        raise InvalidInput(
            f"index at {path} has format {manifest.get('format')}, this version reads {FORMAT}",
            field="path",
            limit=FORMAT,
        )
    arrays = {
        name: np.load(version / f"{name}.npy", mmap_mode="r", allow_pickle=False)
        for name in manifest["arrays"]
    }
    return manifest["settings"], arrays


def _swap_pointer(path: Path, version: str) -> None:
    staging = path / f".{POINTER}.{secrets.token_hex(4)}"
    with staging.open("w") as out:
        out.write(version)
        _sync(out)
    os.replace(staging, path / POINTER)
    _sync_dir(path)


def _remove_old(path: Path, keep: str) -> None:
    for entry in path.iterdir():
        if entry.is_dir() and entry.name != keep and entry.name.startswith(("v-", ".tmp-")):
            shutil.rmtree(entry, ignore_errors=True)


def _sync(stream: Any) -> None:
    stream.flush()
    os.fsync(stream.fileno())


def _sync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
