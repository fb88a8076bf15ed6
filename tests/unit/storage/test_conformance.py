"""What every blob store promises, run against each adapter (see the ``store`` fixture)."""

from __future__ import annotations

import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from datacoop.cid import cid_of_bytes
from datacoop.errors import IntegrityError, InvalidInput, NotFound, TooLarge
from datacoop.storage import BlobInfo, BlobStore, LocalBlobStore

MiB = 1 << 20
INVALID_CIDS = [
    "../etc/passwd",
    "",
    "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG",  # CIDv0
    "bafkrei/../../x",
]


def payload(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def chunked(data: bytes, size: int = MiB) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def read_all(store: BlobStore, cid: str) -> bytes:
    with store.open(cid) as f:
        return f.read()


def local_leftovers(store: BlobStore) -> list[str]:
    """Files the store left on local disk outside its published blobs."""
    if isinstance(store, LocalBlobStore):
        return os.listdir(store.tmp)
    spool_dir = getattr(store, "spool_dir", None)
    return os.listdir(spool_dir) if spool_dir is not None else []


def test_put_stat_open_round_trip(store: BlobStore) -> None:
    # Prepare
    data = b"hello, datacoop\n"
    before = datetime.now(UTC) - timedelta(seconds=2)  # S3 times have whole seconds

    # Execute
    info = store.put([data], max_bytes=1024)

    # Assert
    assert info.size == len(data)
    assert info.profile == "kubo-cidv1"
    assert before <= info.stored_at <= datetime.now(UTC) + timedelta(seconds=2)
    assert store.stat(info.cid) == info
    assert store.exists(info.cid)
    assert read_all(store, info.cid) == data
    assert b"".join(store.iter_bytes(info.cid, chunk_size=4)) == data


def test_cid_is_the_cid_of_the_bytes(store: BlobStore) -> None:
    data = payload(1000)
    assert store.put([data], max_bytes=MiB).cid == cid_of_bytes(data)


def test_second_put_is_idempotent(store: BlobStore) -> None:
    first = store.put([b"same bytes"], max_bytes=100)
    second = store.put([b"same ", b"bytes"], max_bytes=100)
    assert second.cid == first.cid
    assert [info.cid for info in store.list()] == [first.cid]


def test_second_put_renews_stored_at(store: BlobStore) -> None:
    # Prepare: S3 keeps LastModified in whole seconds
    first = store.put([b"uploaded twice"], max_bytes=100)
    time.sleep(1.1)

    # Execute
    second = store.put([b"uploaded twice"], max_bytes=100)

    # Assert: GC's grace window starts again for an upload that is about to name the blob
    assert second.stored_at > first.stored_at
    assert store.stat(first.cid).stored_at == second.stored_at


def test_too_large_is_refused_and_leaves_nothing(store: BlobStore) -> None:
    # Prepare
    writer = store.writer(max_bytes=10)
    writer.write(b"12345")

    # Execute
    with pytest.raises(TooLarge) as caught:
        writer.write(b"678901")

    # Assert
    assert caught.value.field == "body"
    assert caught.value.limit == 10
    assert list(store.list()) == []
    assert local_leftovers(store) == []
    writer.abort()  # still safe after the refusal


def test_too_large_through_put(store: BlobStore) -> None:
    with pytest.raises(TooLarge):
        store.put([b"x" * 11], max_bytes=10)
    assert list(store.list()) == []
    assert local_leftovers(store) == []


def test_exactly_max_bytes_is_accepted(store: BlobStore) -> None:
    info = store.put([b"x" * 6, b"y" * 4], max_bytes=10)
    assert info.size == 10


def test_expected_cid_mismatch_publishes_nothing(store: BlobStore) -> None:
    with pytest.raises(IntegrityError) as caught:
        store.put([b"what was sent"], max_bytes=100, expected_cid=cid_of_bytes(b"what was promised"))
    assert caught.value.field == "cid"
    assert list(store.list()) == []
    assert local_leftovers(store) == []


def test_expected_cid_match_is_accepted(store: BlobStore) -> None:
    info = store.put([b"as promised"], max_bytes=100, expected_cid=cid_of_bytes(b"as promised"))
    assert store.exists(info.cid)


def test_writer_left_without_commit_publishes_nothing(store: BlobStore) -> None:
    with store.writer(max_bytes=100) as writer:
        writer.write(b"never committed")
        assert writer.bytes_written == 15
    assert list(store.list()) == []
    assert not store.exists(cid_of_bytes(b"never committed"))
    assert local_leftovers(store) == []


def test_commit_twice_returns_the_same_blob_and_closes_the_writer(store: BlobStore) -> None:
    with store.writer(max_bytes=100) as writer:
        writer.write(memoryview(b"once"))
        first = writer.commit()
        assert writer.commit() == first
        with pytest.raises(ValueError):
            writer.write(b"more")
    assert store.stat(first.cid) == first


def test_unknown_cid_is_not_found(store: BlobStore) -> None:
    cid = cid_of_bytes(b"never stored")
    for call in (store.stat, store.open):
        with pytest.raises(NotFound) as caught:
            call(cid)
        assert caught.value.field == "cid"
    assert not store.exists(cid)
    store.delete(cid)  # absent blobs are ignored


@pytest.mark.parametrize("bad", INVALID_CIDS)
@pytest.mark.parametrize("operation", ["stat", "open", "delete", "exists"])
def test_invalid_cids_are_rejected(store: BlobStore, operation: str, bad: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        getattr(store, operation)(bad)
    assert caught.value.field == "cid"


def test_list_sees_every_blob(store: BlobStore) -> None:
    # Prepare
    blobs = [payload(size, seed) for seed, size in enumerate([0, 1, 1000, 300_000])]

    # Execute
    put = {store.put([b], max_bytes=MiB).cid: len(b) for b in blobs}
    listed = {info.cid: info for info in store.list()}

    # Assert
    assert {cid: info.size for cid, info in listed.items()} == put
    assert {info.profile for info in listed.values()} == {"kubo-cidv1"}
    assert all(isinstance(info, BlobInfo) and info.stored_at.tzinfo for info in listed.values())


def test_delete_removes_the_blob(store: BlobStore) -> None:
    kept = store.put([b"kept"], max_bytes=100)
    gone = store.put([b"gone"], max_bytes=100)
    store.delete(gone.cid)
    assert not store.exists(gone.cid)
    assert [info.cid for info in store.list()] == [kept.cid]
    store.delete(gone.cid)


def test_verify_recomputes_the_cid(store: BlobStore) -> None:
    info = store.put(chunked(payload(600_000), 100_000), max_bytes=MiB)
    assert store.verify(info.cid)


def test_multi_mib_blob_round_trips(store: BlobStore) -> None:
    # Prepare: several 256 KiB CID chunks, and more than one S3 part
    data = payload(6 * MiB + 12_345, seed=7)

    # Execute
    info = store.put(chunked(data, 64 * 1024 + 1), max_bytes=8 * MiB)

    # Assert
    assert info.cid == cid_of_bytes(data)
    assert info.size == len(data)
    assert b"".join(store.iter_bytes(info.cid)) == data
    assert store.verify(info.cid)


def test_concurrent_writers_of_the_same_content(store: BlobStore) -> None:
    # Prepare
    data = payload(MiB + 1, seed=3)
    start = threading.Barrier(4)

    def put() -> BlobInfo:
        start.wait()
        return store.put(chunked(data, 128 * 1024), max_bytes=2 * MiB)

    # Execute
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: put(), range(4)))

    # Assert
    assert {info.cid for info in results} == {cid_of_bytes(data)}
    assert [info.cid for info in store.list()] == [results[0].cid]
    assert read_all(store, results[0].cid) == data
    assert local_leftovers(store) == []


def test_health_reports_the_kind(store: BlobStore) -> None:
    assert store.health()["kind"] in {"local", "s3"}
