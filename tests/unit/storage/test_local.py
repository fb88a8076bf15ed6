"""What only the local directory store promises: its layout on disk and crash leftovers."""

from __future__ import annotations

import os
import stat
import time
from datetime import timedelta
from pathlib import Path

import pytest

from datacoop.cid import cid_of_bytes
from datacoop.errors import InvalidInput, NotFound, Unavailable
from datacoop.storage import LocalBlobStore


def blob_path(store: LocalBlobStore, cid: str, profile: str = "kubo-cidv1") -> Path:
    return store.root / profile / cid[-2:] / cid


def test_blob_lives_under_profile_and_shard(local_store: LocalBlobStore) -> None:
    info = local_store.put([b"where am I"], max_bytes=100)
    assert blob_path(local_store, info.cid).read_bytes() == b"where am I"


def test_blobs_are_read_only(local_store: LocalBlobStore) -> None:
    info = local_store.put([b"immutable"], max_bytes=100)
    mode = blob_path(local_store, info.cid).stat().st_mode
    assert stat.S_IMODE(mode) == 0o444


def test_verify_is_false_after_the_file_is_corrupted(local_store: LocalBlobStore) -> None:
    # Prepare
    info = local_store.put([b"original bytes"], max_bytes=100)
    path = blob_path(local_store, info.cid)
    path.chmod(0o644)
    path.write_bytes(b"tampered bytes")

    # Execute
    ok = local_store.verify(info.cid)

    # Assert
    assert not ok


def test_an_abandoned_writer_is_never_visible(local_store: LocalBlobStore) -> None:
    # Prepare: a writer that dies mid-upload (no commit, no abort), as a killed process would
    data = b"half of it" * 1000
    writer = local_store.writer(max_bytes=len(data))
    writer.write(data[: len(data) // 2])

    # Execute
    listed = list(local_store.list())

    # Assert
    assert listed == []
    with pytest.raises(NotFound):
        local_store.stat(cid_of_bytes(data))
    assert len(os.listdir(local_store.tmp)) == 1
    writer.abort()
    assert os.listdir(local_store.tmp) == []


def test_cleanup_temp_removes_only_old_leftovers(local_store: LocalBlobStore) -> None:
    # Prepare: one upload stalled two hours ago, one in progress now
    stalled = local_store.writer(max_bytes=100)
    stalled.write(b"stalled")
    (stalled_temp,) = os.listdir(local_store.tmp)
    live = local_store.writer(max_bytes=100)
    live.write(b"live")
    two_hours_ago = time.time() - 7200
    os.utime(local_store.tmp / stalled_temp, (two_hours_ago, two_hours_ago))

    # Execute
    removed = local_store.cleanup_temp(timedelta(hours=1))

    # Assert
    assert removed == 1
    assert stalled_temp not in os.listdir(local_store.tmp)
    assert len(os.listdir(local_store.tmp)) == 1
    assert live.commit().size == 4
    stalled.abort()  # its file is gone already; abort must not mind


def test_a_blob_is_found_under_any_profile_directory(local_store: LocalBlobStore) -> None:
    # Prepare: a blob written by an earlier node configured with another profile
    cid = cid_of_bytes(b"older")
    other = blob_path(local_store, cid, profile="other-profile")
    other.parent.mkdir(parents=True)
    other.write_bytes(b"older")

    # Execute
    info = local_store.stat(cid)
    again = local_store.put([b"older"], max_bytes=100)

    # Assert: found, reported with its profile, not stored twice
    assert info.profile == "other-profile"
    assert again.profile == "other-profile"
    assert [i.cid for i in local_store.list()] == [cid]


def test_unknown_profile_is_refused(local_store: LocalBlobStore) -> None:
    with pytest.raises(InvalidInput):
        local_store.writer(max_bytes=10, profile="../../etc")


def test_health_fails_when_the_directory_is_gone(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    assert store.health() == {"kind": "local", "root": str(tmp_path / "blobs")}
    store.tmp.rmdir()
    with pytest.raises(Unavailable):
        store.health()
