"""A content-addressed directory: the embedded blob store.

Layout::

    root/
      tmp/put-*.part               uploads in progress (removed on abort; cleanup_temp after a crash)
      <profile>/<shard>/<cid>      published blobs, read-only; shard = the CID's last two characters

The profile is a directory level rather than a sidecar file because a single
``os.replace`` then publishes bytes and profile together: there is no moment,
and no crash, that leaves a blob without its profile or a profile without its
blob. The shard comes from the end of the CID because every CIDv1 of a profile
starts with the same characters.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from datacoop.cid import DEFAULT_PROFILE_NAME, get_profile, parse_cid
from datacoop.errors import InvalidInput, NotFound, Unavailable
from datacoop.storage._spool import SpoolingWriter
from datacoop.storage.base import BlobInfo, BlobStore, BlobWriter

__all__ = ["LocalBlobStore"]

TMP = "tmp"
_SAFE_PROFILE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")  # it becomes a directory name


class LocalBlobStore(BlobStore):
    """Blobs as read-only files under ``root``, published by atomic rename.

    Args:
        root: the store's directory (created if missing).
        default_profile: CID profile for writers that name none.
    """

    def __init__(self, root: Path, default_profile: str = DEFAULT_PROFILE_NAME) -> None:
        self.root = Path(root)
        self.tmp = self.root / TMP
        self.default_profile = _checked_profile(default_profile)
        self.tmp.mkdir(parents=True, exist_ok=True)

    def writer(self, *, max_bytes: int, profile: str | None = None) -> BlobWriter:
        name = _checked_profile(profile or self.default_profile)
        fd, temp = tempfile.mkstemp(prefix="put-", suffix=".part", dir=self.tmp)
        return _LocalWriter(self, Path(temp), os.fdopen(fd, "wb"), profile=name, max_bytes=max_bytes)

    def stat(self, cid: str) -> BlobInfo:
        return _info(self._existing(cid))

    def open(self, cid: str) -> BinaryIO:
        path = self._existing(cid)
        try:
            return path.open("rb")
        except FileNotFoundError:  # deleted since we looked
            raise _not_found(path.name) from None

    def delete(self, cid: str) -> None:
        cid = parse_cid(cid, field="cid")
        for profile_dir in self._profile_dirs():
            (profile_dir / _shard(cid) / cid).unlink(missing_ok=True)

    def list(self) -> Iterator[BlobInfo]:
        for profile_dir in self._profile_dirs():
            for shard in _subdirs(profile_dir):
                for entry in _scan(shard):
                    try:
                        yield _info(Path(entry.path))
                    except FileNotFoundError:  # deleted while we walked
                        continue

    def health(self) -> dict[str, object]:
        if not os.access(self.tmp, os.W_OK | os.X_OK):
            raise Unavailable(f"the blob directory {self.root} is missing or not writable")
        return {"kind": "local", "root": str(self.root)}

    def cleanup_temp(self, older_than: timedelta) -> int:
        """Remove uploads abandoned by a crash: temp files untouched for ``older_than``.

        A live upload rewrites its temp file with every chunk, so only stalled ones are old.
        Returns the number of files removed.
        """
        cutoff = (datetime.now(UTC) - older_than).timestamp()
        removed = 0
        for entry in _scan(self.tmp):
            try:
                if entry.stat().st_mtime <= cutoff:
                    os.unlink(entry.path)
                    removed += 1
            except FileNotFoundError:  # its writer finished or aborted meanwhile
                continue
        return removed

    def _publish(self, temp: Path, cid: str, profile: str) -> BlobInfo:
        """Rename a finished, fsynced temp file into place, or drop it if the blob exists."""
        existing = self._find(cid)
        if existing is not None:
            try:
                # An upload is about to name this blob: restart GC's grace window on it.
                os.utime(existing)
                temp.unlink()
                return _info(existing)
            except FileNotFoundError:
                pass  # GC removed it just now: publish ours instead
        final = self.root / profile / _shard(cid) / cid
        _make_dirs(final.parent, stop=self.root)
        os.replace(temp, final)
        _fsync_dir(final.parent)  # the rename itself must survive a power cut
        return _info(final)

    def _existing(self, cid: str) -> Path:
        cid = parse_cid(cid, field="cid")
        path = self._find(cid)
        if path is None:
            raise _not_found(cid)
        return path

    def _find(self, cid: str) -> Path | None:
        for profile_dir in self._profile_dirs():
            path = profile_dir / _shard(cid) / cid
            if path.is_file():
                return path
        return None

    def _profile_dirs(self) -> tuple[Path, ...]:
        # Sorted so that a CID stored under two profiles always resolves the same way.
        return tuple(sorted(p for p in _subdirs(self.root) if p.name != TMP))


class _LocalWriter(SpoolingWriter):
    def __init__(
        self, store: LocalBlobStore, temp: Path, spool: BinaryIO, *, profile: str, max_bytes: int
    ) -> None:
        super().__init__(spool, profile=get_profile(profile), max_bytes=max_bytes)
        self._store, self._temp, self._profile_name = store, temp, profile

    def _publish(self, cid: str) -> BlobInfo:
        os.fsync(self._spool.fileno())  # bytes on disk before the name points at them
        self._spool.close()
        os.chmod(self._temp, 0o444)
        return self._store._publish(self._temp, cid, self._profile_name)

    def _discard(self) -> None:
        self._temp.unlink(missing_ok=True)


def _checked_profile(name: str) -> str:
    profile = get_profile(name).name
    if not _SAFE_PROFILE.fullmatch(profile) or profile == TMP:
        raise InvalidInput(f"profile name {profile!r} cannot be stored as a directory name", field="profile")
    return profile


def _shard(cid: str) -> str:
    return cid[-2:]


def _info(path: Path) -> BlobInfo:
    st = path.stat()
    stored_at = datetime.fromtimestamp(st.st_mtime, UTC)
    return BlobInfo(cid=path.name, size=st.st_size, profile=path.parent.parent.name, stored_at=stored_at)


def _not_found(cid: str) -> NotFound:
    return NotFound(f"no blob {cid} in this store", field="cid")


def _scan(directory: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(directory) as entries:
            return [e for e in entries if e.is_file() and not e.name.startswith(".")]
    except FileNotFoundError:
        return []


def _subdirs(directory: Path) -> list[Path]:
    try:
        with os.scandir(directory) as entries:
            return [Path(e.path) for e in entries if e.is_dir()]
    except FileNotFoundError:
        return []


def _make_dirs(path: Path, *, stop: Path) -> None:
    """mkdir -p, fsyncing each parent whose listing changed so new directories are durable."""
    if path == stop or path.is_dir():
        return
    _make_dirs(path.parent, stop=stop)
    try:
        path.mkdir()
    except FileExistsError:  # a concurrent writer made it
        return
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
