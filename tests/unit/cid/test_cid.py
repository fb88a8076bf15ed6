"""CIDs against the reference vectors made with the JS importer, and the public surface."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from datacoop.cid import (
    DEFAULT_PROFILE,
    PROFILES,
    CidBuilder,
    Profile,
    cid_of_bytes,
    cid_of_file,
    cid_of_stream,
    get_profile,
)
from datacoop.errors import InvalidInput

VECTORS_FILE = (
    Path(__file__).parents[2] / "data" / "cid_vectors.json"
)  # kubo vectors, vendored from shared/ref
# The vectors' `regenerate` expressions, written out rather than eval'd.
REGENERATE: dict[str, Callable[[], bytes]] = {
    "b''": lambda: b"",
    "b'hello world'": lambda: b"hello world",
    "bytes(i % 251 for i in range(2**20))": lambda: _pattern(2**20),
    "bytes(i % 251 for i in range(3 * 2**20))": lambda: _pattern(3 * 2**20),
    "bytes(i % 251 for i in range(50 * 2**20))": lambda: _pattern(50 * 2**20),
}


def _pattern(size: int) -> bytes:
    """``bytes(i % 251 for i in range(size))``, built a thousand times faster."""
    period = bytes(range(251))
    return (period * (size // 251 + 1))[:size]


def _vectors() -> list[dict[str, Any]]:
    vectors: list[dict[str, Any]] = json.loads(VECTORS_FILE.read_text())["vectors"]
    return vectors


def _regenerate(vector: dict[str, Any]) -> bytes:
    expression = vector["regenerate"].split(" (")[0]  # drop the "(11 bytes, no newline)" remark
    return REGENERATE[expression]()


@pytest.mark.parametrize("vector", _vectors(), ids=lambda v: v["name"])
def test_cid_matches_the_js_importer_vector(vector: dict[str, Any]) -> None:
    # Prepare
    data = _regenerate(vector)
    assert len(data) == vector["size"]

    # Execute
    cid = cid_of_bytes(data)

    # Assert
    assert cid == vector["cid"]


def test_pattern_matches_the_vectors_expression() -> None:
    assert _pattern(5000) == bytes(i % 251 for i in range(5000))


def test_known_cids_of_kubo() -> None:
    # `echo -n | ipfs add -nq --cid-version=1` and `printf 'hello world' | ipfs add ...`
    assert cid_of_bytes(b"") == "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
    assert cid_of_bytes(b"hello world") == "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"


def test_one_chunk_is_a_raw_leaf_and_two_are_a_dag_pb_node() -> None:
    chunk = DEFAULT_PROFILE.chunk_size
    assert cid_of_bytes(bytes(chunk)).startswith("bafkrei")
    assert cid_of_bytes(bytes(chunk + 1)).startswith("bafybei")


def test_file_stream_and_bytes_agree(tmp_path: Path) -> None:
    # Prepare
    data = _pattern(3 * DEFAULT_PROFILE.chunk_size + 1234)
    path = tmp_path / "blob.bin"
    path.write_bytes(data)

    # Execute
    from_file = cid_of_file(path)
    from_stream = cid_of_stream(io.BytesIO(data))
    from_str_path = cid_of_file(str(path))

    # Assert
    assert from_file == from_stream == from_str_path == cid_of_bytes(data)


def test_missing_file_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        cid_of_file(tmp_path / "absent")


def test_profiles_are_kubos() -> None:
    assert DEFAULT_PROFILE == PROFILES["kubo-cidv1"] == Profile("kubo-cidv1", 262_144, 174)
    assert PROFILES["unixfs-v1-2025"] == Profile("unixfs-v1-2025", 1_048_576, 1024)
    assert get_profile("unixfs-v1-2025") is PROFILES["unixfs-v1-2025"]


def test_unknown_profile_names_the_field_and_suggests() -> None:
    with pytest.raises(InvalidInput) as caught:
        get_profile("kubo-cidv2")
    assert caught.value.field == "cid_profile"
    assert "Did you mean 'kubo-cidv1'?" in caught.value.message


@pytest.mark.parametrize(("chunk_size", "max_links"), [(0, 174), (16, 1)])
def test_profile_refuses_sizes_that_cannot_build_a_tree(chunk_size: int, max_links: int) -> None:
    with pytest.raises(InvalidInput):
        Profile("broken", chunk_size, max_links)


def test_the_other_profile_cuts_one_mib_leaves() -> None:
    profile = PROFILES["unixfs-v1-2025"]
    assert cid_of_bytes(bytes(2**20), profile).startswith("bafkrei")
    assert cid_of_bytes(bytes(2**20 + 1), profile) != cid_of_bytes(bytes(2**20 + 1))


def test_builder_counts_bytes_and_finish_is_final() -> None:
    # Prepare
    builder = CidBuilder()
    builder.update(b"hello ")
    builder.update(memoryview(b"world"))

    # Execute
    cid = builder.finish()

    # Assert
    assert builder.size == 11
    assert cid == builder.finish() == cid_of_bytes(b"hello world")
    with pytest.raises(ValueError, match="finished"):
        builder.update(b"more")
    with pytest.raises(ValueError, match="finished"):
        builder.read_from(io.BytesIO(b"more"))


def test_update_takes_any_buffer() -> None:
    builder = CidBuilder()
    builder.update(bytearray(b"ab"))
    builder.update(memoryview(b"\x00\x00\x00\x00").cast("I"))  # not a byte format: read as its bytes
    assert builder.finish() == cid_of_bytes(b"ab\x00\x00\x00\x00")
