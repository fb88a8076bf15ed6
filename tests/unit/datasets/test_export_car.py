"""CAR export, re-read with an independent reader: cbor2 for the header, multiformats for every CID.

Every test runs with the blocks hashed inline and in the helper process.

Each block's CID must be the hash of its bytes under its codec, every item's CID must be a block,
and following the dag-pb links from an item's CID must give back the blob's bytes.
"""

from __future__ import annotations

import hashlib
import io
import os
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import cbor2
import pytest
from multiformats import CID, varint
from tests.unit.datasets._export_samples import image_dataset, item, manifest, mixed_dataset, put, store_at

from datacoop.cid import PROFILES, Profile, cid_of_bytes, get_profile, iter_blocks
from datacoop.datasets.export import _hashing, car, webdataset
from datacoop.datasets.manifest import Manifest
from datacoop.errors import IntegrityError, NotFound
from datacoop.storage import LocalBlobStore


@pytest.fixture(autouse=True, params=["inline", "process"])
def hashing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs twice: hashing on the caller's thread and in the helper process (whatever the size)."""
    if request.param == "process":
        monkeypatch.setattr(_hashing, "PROCESS_MIN_BYTES", 0)
    return str(request.param)


def _read_car(path: Path) -> tuple[list[CID], dict[str, bytes]]:
    """The CAR's roots and its blocks by CID text, each checked against its hash on the way."""
    blocks: dict[str, bytes] = {}
    with path.open("rb") as stream:
        header = cbor2.loads(stream.read(varint.decode(stream)))
        assert header["version"] == 1
        roots = [CID.decode(bytes(tag.value)[1:]) for tag in header["roots"]]  # tag 42: 0x00 + CID
        while stream.peek(1):
            section = stream.read(varint.decode(stream))
            cid = CID.decode(section[: _cid_length(section)])
            data = section[_cid_length(section) :]
            assert cid.hashfun.name == "sha2-256" and cid.raw_digest == hashlib.sha256(data).digest()
            blocks[str(cid.set(base="base32"))] = data
    return roots, blocks


def _cid_length(section: bytes) -> int:
    """Bytes of the CIDv1 a section starts with: version, codec, hash code, digest length, digest."""
    stream = io.BytesIO(section)
    for _ in range(3):
        varint.decode(stream)
    digest_length = varint.decode(stream)
    return stream.tell() + digest_length


def _links(node: bytes) -> Iterator[bytes]:
    """The child CIDs of a dag-pb node (PBNode field 2 = PBLink, PBLink field 1 = Hash)."""
    stream = io.BytesIO(node)
    while stream.tell() < len(node):
        key = varint.decode(stream)
        body = stream.read(varint.decode(stream))
        if key == 0x12:
            link = io.BytesIO(body)
            assert varint.decode(link) == 0x0A
            yield link.read(varint.decode(link))


def _file(cid_text: str, blocks: dict[str, bytes]) -> bytes:
    """The file a UnixFS DAG holds, read back from the blocks alone."""
    cid = CID.decode(cid_text)
    if cid.codec.name == "raw":
        return blocks[cid_text]
    children = (str(CID.decode(link).set(base="base32")) for link in _links(blocks[cid_text]))
    return b"".join(_file(child, blocks) for child in children)


def test_every_block_matches_its_cid_and_every_item_reads_back(tmp_path: Path) -> None:
    # Prepare
    store = store_at(tmp_path)
    version, blobs = mixed_dataset(store)
    # Execute
    result = car.export(version, store.open, tmp_path / "out", blob_profile=lambda c: store.stat(c).profile)
    roots, blocks = _read_car(result.files[0])
    # Assert
    manifest_cid = cid_of_bytes(version.to_bytes())
    assert [str(root.set(base="base32")) for root in roots] == [manifest_cid]
    assert _file(manifest_cid, blocks) == version.to_bytes()
    for entry, blob in zip(version.items, blobs, strict=True):
        assert entry.cid in blocks and _file(entry.cid, blocks) == blob
    assert len(blocks) > 2 + len(blobs)  # the big blobs are DAGs of several leaves
    assert result.blob_bytes == sum(map(len, blobs))


def test_without_a_profile_each_known_one_is_tried_and_failed_attempts_leave_no_block(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    version, _ = mixed_dataset(store)  # the last blob is stored with unixfs-v1-2025
    with_hint = car.export(version, store.open, tmp_path / "a", blob_profile=lambda c: store.stat(c).profile)
    guessed = car.export(version, store.open, tmp_path / "b")
    assert guessed.files[0].read_bytes() == with_hint.files[0].read_bytes()


def test_a_changed_byte_in_a_blob_is_refused(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    version, blobs = image_dataset(store, 3)
    tampered = bytearray(blobs[2])
    tampered[-1] ^= 1

    def open_blob(cid: str) -> BinaryIO:
        return io.BytesIO(bytes(tampered)) if cid == version.items[2].cid else store.open(cid)

    with pytest.raises(IntegrityError) as error:
        car.export(version, open_blob, tmp_path / "out")
    assert error.value.field == "cid" and version.items[2].cid in error.value.message
    assert list((tmp_path / "out").iterdir()) == []


def test_a_blob_listed_twice_is_written_once_and_the_manifest_cid_is_checked(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    data = os.urandom(1000)
    cid = put(store, data)
    version = manifest([item(0, cid, 1000, "application/octet-stream"), item(1, cid, 1000, "text/plain")])
    result = car.export(version, store.open, tmp_path / "out", manifest_cid=cid_of_bytes(version.to_bytes()))
    _, blocks = _read_car(result.files[0])
    assert len(blocks) == 2 and result.files[0].read_bytes().count(data) == 1
    with pytest.raises(IntegrityError) as error:
        car.export(version, store.open, tmp_path / "other", manifest_cid=cid)
    assert error.value.field == "manifest_cid"


@pytest.mark.parametrize("size", [0, 1, 4, 5, 12, 13, 37, 100])
def test_blocks_give_the_same_cid_as_the_builder_on_deep_trees(size: int) -> None:
    profile = Profile("tiny", chunk_size=4, max_links=3)  # 100 bytes: 25 leaves, three levels of nodes
    data = bytes(range(size))
    blocks = list(iter_blocks(io.BytesIO(data), profile))
    by_cid = {block.cid_text: block.data for block in blocks}
    assert blocks[-1].cid_text == cid_of_bytes(data, profile)
    assert all(CID.decode(b.cid).raw_digest == hashlib.sha256(b.data).digest() for b in blocks)
    assert _file(blocks[-1].cid_text, by_cid) == data


def test_car_and_webdataset_hold_bounded_buffers_not_the_blob(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    data = os.urandom(32 * 1024 * 1024)
    version = manifest([item(0, put(store, data), len(data), "application/octet-stream")])
    del data
    peaks = {}
    for name, export in (("car", car.export), ("webdataset", webdataset.export)):
        tracemalloc.start()
        export(version, store.open, tmp_path / name)
        peaks[name] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    # 32 MiB streamed: through one buffer of 1 MiB (tar shards) or three arenas of 1 MiB (CAR)
    assert max(peaks.values()) < 8 * 1024 * 1024, peaks


def test_a_missing_blob_stops_the_export_with_the_store_error(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    version, _ = image_dataset(store, 4)
    store.delete(version.items[2].cid)  # raised on the reader thread, re-raised here
    with pytest.raises(NotFound) as error:
        car.export(version, store.open, tmp_path / "out")
    assert error.value.field == "cid"
    assert list((tmp_path / "out").iterdir()) == []


def _reference_car(version: Manifest, store: LocalBlobStore) -> bytes:
    """The CAR built the plain way, one block at a time from iter_blocks: what the export must equal."""
    out = io.BytesIO()
    manifest_blocks = list(iter_blocks(io.BytesIO(version.to_bytes())))
    out.write(car.car_header([manifest_blocks[-1].cid]))
    car.write_blocks(out, manifest_blocks)
    seen: set[str] = set()
    for entry in version.items:
        if entry.cid not in seen:
            seen.add(entry.cid)
            with store.open(entry.cid) as blob:
                car.write_blocks(out, iter_blocks(blob, get_profile(store.stat(entry.cid).profile)))
    return out.getvalue()


def test_the_pipelined_export_gives_the_blocks_of_iter_blocks_in_their_order(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    version, blobs = mixed_dataset(store)
    version = manifest([*version.items, item(5, version.items[3].cid, len(blobs[3]), "text/plain")])
    result = car.export(version, store.open, tmp_path / "out", blob_profile=lambda c: store.stat(c).profile)
    assert result.files[0].read_bytes() == _reference_car(version, store)


def test_deep_trees_and_tiny_chunks_give_the_blocks_of_iter_blocks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 4-byte chunks, 3 links a node: 100 bytes make 25 leaves under three levels of nodes.
    monkeypatch.setitem(PROFILES, "tiny", Profile("tiny", chunk_size=4, max_links=3))
    store = store_at(tmp_path)
    sizes = [0, 1, 4, 5, 12, 13, 37, 100]
    version = manifest(
        [
            item(i, put(store, os.urandom(n), "tiny"), n, "application/octet-stream")
            for i, n in enumerate(sizes)
        ]
    )
    result = car.export(version, store.open, tmp_path / "out", blob_profile=lambda c: store.stat(c).profile)
    assert result.files[0].read_bytes() == _reference_car(version, store)


def test_a_changed_byte_inside_a_blob_of_several_chunks_is_refused(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    version, blobs = mixed_dataset(store)
    tampered = bytearray(blobs[3])  # 700,000 bytes: three leaves under one node
    tampered[300_000] ^= 1

    def open_blob(cid: str) -> BinaryIO:
        return io.BytesIO(bytes(tampered)) if cid == version.items[3].cid else store.open(cid)

    with pytest.raises(IntegrityError) as error:
        car.export(version, open_blob, tmp_path / "out", blob_profile=lambda c: store.stat(c).profile)
    assert error.value.field == "cid" and version.items[3].cid in error.value.message
    assert list((tmp_path / "out").iterdir()) == []


def test_a_blob_shorter_than_its_manifest_size_is_refused_and_bytes_past_it_are_not_read(
    tmp_path: Path,
) -> None:
    # The export reads exactly the manifest's size (no read to find the end): a byte short fails the
    # CID check; a byte too many is never read, so the CAR holds exactly the bytes the CID names.
    store = store_at(tmp_path)
    version, blobs = mixed_dataset(store)
    longer, shorter = blobs[3] + b"\0", blobs[3][:-1]  # 700,000 bytes: three leaves
    reference = car.export(
        version, store.open, tmp_path / "ref", blob_profile=lambda c: store.stat(c).profile
    )

    def opener(replacement: bytes) -> Callable[[str], BinaryIO]:
        def open_blob(cid: str) -> BinaryIO:
            return io.BytesIO(replacement) if cid == version.items[3].cid else store.open(cid)

        return open_blob

    with pytest.raises(IntegrityError) as error:
        car.export(version, opener(shorter), tmp_path / "short", blob_profile=lambda c: store.stat(c).profile)
    assert error.value.field == "cid" and version.items[3].cid in error.value.message
    assert list((tmp_path / "short").iterdir()) == []
    longer_car = car.export(
        version, opener(longer), tmp_path / "long", blob_profile=lambda c: store.stat(c).profile
    )
    assert longer_car.files[0].read_bytes() == reference.files[0].read_bytes()
