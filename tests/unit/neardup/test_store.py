"""Save and load: identical answers, memory-mapped arrays, atomic versions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.unit.neardup.conftest import as_arrays, brute_force, hash_sets, queries

from datacoop.errors import InvalidInput, NotFound
from datacoop.neardup import HammingIndex


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), hashes=hash_sets(), split=st.integers(0, 70))
def test_a_loaded_index_answers_as_the_saved_one(
    tmp_path: Path, data: st.DataObject, hashes: list[int], split: int
) -> None:
    # Prepare: merged items, pending items and a tombstone, all of which must survive.
    ids = list(range(len(hashes)))
    index = HammingIndex(radius=8, parts=5, merge_threshold=10_000)
    index.add(*as_arrays(ids[:split], hashes[:split]))
    index.merge()
    index.add(*as_arrays(ids[split:], hashes[split:]))
    index.remove([0])
    # Execute
    index.save(tmp_path / "index")
    loaded = HammingIndex.load(tmp_path / "index")
    # Assert
    assert len(loaded) == len(index)
    assert loaded.layout == index.layout
    assert loaded.memory_bytes() == index.memory_bytes()
    for radius in (0, 4, 8):
        query = data.draw(queries(hashes), label="query")
        assert loaded.query(query, radius) == index.query(query, radius)


def test_loaded_arrays_are_memory_mapped_and_still_accept_items(tmp_path: Path) -> None:
    # Prepare
    index = HammingIndex(parts=4, merge_threshold=1)
    index.add(np.arange(3), np.array([1, 2, 3], dtype=np.uint64))
    index.save(tmp_path)
    # Execute
    loaded = HammingIndex.load(tmp_path)
    loaded.add(np.array([7]), np.array([3], dtype=np.uint64))
    loaded.remove([0])
    # Assert: new arrays replace the read-only maps; the file on disk is untouched.
    assert isinstance(HammingIndex.load(tmp_path)._tables.hashes, np.memmap)
    assert loaded.query(3, 1) == [(2, 0), (7, 0), (1, 1)]
    assert HammingIndex.load(tmp_path).query(3, 1) == [(2, 0), (0, 1), (1, 1)]


def test_a_second_save_replaces_the_first_and_leaves_one_version(tmp_path: Path) -> None:
    index = HammingIndex(parts=4)
    index.add(np.array([1]), np.array([5], dtype=np.uint64))
    index.save(tmp_path)
    index.add(np.array([2]), np.array([5], dtype=np.uint64))
    index.save(tmp_path)
    versions = sorted(p.name for p in tmp_path.iterdir())
    assert len(versions) == 2 and versions[0] == "CURRENT"
    assert (tmp_path / "CURRENT").read_text() == versions[1]
    assert HammingIndex.load(tmp_path).query(5, 0) == [(1, 0), (2, 0)]


def test_an_interrupted_save_leaves_the_previous_version_live(tmp_path: Path) -> None:
    # Prepare: a good save, then a staging folder as a crash mid-save would leave it.
    index = HammingIndex(parts=4)
    index.add(np.array([1]), np.array([5], dtype=np.uint64))
    index.save(tmp_path)
    (tmp_path / ".tmp-deadbeef").mkdir()
    (tmp_path / ".tmp-deadbeef" / "hashes.npy").write_bytes(b"partial")
    # Execute / Assert: it is ignored on load and swept by the next save.
    assert HammingIndex.load(tmp_path).query(5) == [(1, 0)]
    index.save(tmp_path)
    assert not (tmp_path / ".tmp-deadbeef").exists()


def test_a_missing_index_is_not_found_and_a_foreign_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        HammingIndex.load(tmp_path / "nothing")
    HammingIndex(parts=4).save(tmp_path)
    manifest = tmp_path / (tmp_path / "CURRENT").read_text() / "manifest.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "format": 99}))
    with pytest.raises(InvalidInput) as error:
        HammingIndex.load(tmp_path)
    assert error.value.field == "path"


def test_a_saved_default_index_of_the_three_part_cut_round_trips(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    hashes = rng.integers(0, 2**64, 500, dtype=np.uint64)
    index = HammingIndex(merge_threshold=100)
    index.add(np.arange(500), hashes)
    index.save(tmp_path)
    loaded = HammingIndex.load(tmp_path)
    for query in hashes[:20].tolist():
        assert loaded.query(query) == brute_force(list(range(500)), hashes.tolist(), query, 8)
