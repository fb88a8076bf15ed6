"""HammingIndex answers exactly what a brute-force scan answers, whatever state it is in."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.unit.neardup.conftest import as_arrays, brute_force, hash_sets, queries

from datacoop.errors import InvalidInput, TooLarge
from datacoop.neardup import HammingIndex, _index


@settings(max_examples=60, deadline=None)
@given(data=st.data(), hashes=hash_sets(), parts=st.integers(4, 9), threshold=st.integers(1, 40))
def test_answers_equal_brute_force(
    data: st.DataObject, hashes: list[int], parts: int, threshold: int
) -> None:
    # Prepare: part of the items merged into the tables, the rest pending (threshold decides).
    ids = list(range(100, 100 + len(hashes)))
    index = HammingIndex(radius=8, parts=parts, merge_threshold=threshold)
    index.add(*as_arrays(ids, hashes))
    for _ in range(5):
        query = data.draw(queries(hashes), label="query")
        radius = data.draw(st.integers(0, 8), label="radius")
        # Execute / Assert
        assert index.query(query, radius) == brute_force(ids, hashes, query, radius)


@settings(max_examples=8, deadline=None)
@given(data=st.data(), hashes=hash_sets(max_size=40))
def test_three_parts_the_default_answers_equal_brute_force(data: st.DataObject, hashes: list[int]) -> None:
    # Few examples: each build allocates the 2**22-bucket directory of the default cut.
    ids = list(range(len(hashes)))
    index = HammingIndex(merge_threshold=1)
    index.add(*as_arrays(ids, hashes))
    for radius in range(9):
        query = data.draw(queries(hashes), label="query")
        assert index.query(query, radius) == brute_force(ids, hashes, query, radius)


@settings(max_examples=30, deadline=None)
@given(data=st.data(), first=hash_sets(max_size=30), second=hash_sets(max_size=30))
def test_batches_merged_later_and_removals_keep_answers_exact(
    data: st.DataObject, first: list[int], second: list[int]
) -> None:
    # Prepare: one merged batch, one pending, then a removal hitting both.
    index = HammingIndex(parts=5, merge_threshold=10_000)
    ids = list(range(len(first) + len(second)))
    index.add(*as_arrays(ids[: len(first)], first))
    index.merge()
    index.add(*as_arrays(ids[len(first) :], second))
    gone = set(data.draw(st.lists(st.sampled_from(ids), max_size=8), label="removed") if ids else [])
    # Execute
    removed = index.remove(sorted(gone))
    kept = [(i, h) for i, h in zip(ids, first + second, strict=True) if i not in gone]
    # Assert: before and after the merge that drops the tombstones.
    assert removed == len(gone)
    assert len(index) == len(kept)
    for _ in range(2):
        query = data.draw(queries(first + second), label="query")
        assert index.query(query) == brute_force([i for i, _ in kept], [h for _, h in kept], query, 8)
        index.merge()


def test_pending_items_merge_once_past_the_threshold() -> None:
    index = HammingIndex(parts=4, merge_threshold=3)
    index.add(np.array([1, 2]), np.array([0b1, 0b11], dtype=np.uint64))
    assert index.memory_bytes() < 100  # pending only: no directory until the first merge
    index.add(np.array([3]), np.array([0b111], dtype=np.uint64))
    assert index.query(0, 3) == [(1, 1), (2, 2), (3, 3)]
    assert index.memory_bytes() > 4 * 2**16 * 4  # the 16-bit directories of four parts now exist


def test_an_empty_index_answers_nothing() -> None:
    index = HammingIndex()
    assert len(index) == 0
    assert index.query(0) == []
    assert index.query_many([0, 2**64 - 1]) == [[], []]
    assert index.candidates(12345) == 0
    index.merge()
    assert index.query(2**64 - 1, 0) == []


def test_duplicates_and_ties_come_back_by_distance_then_id() -> None:
    index = HammingIndex(parts=4, merge_threshold=1)
    index.add(np.array([9, 3, 5, 7]), np.array([6, 6, 7, 4], dtype=np.uint64))
    assert index.query(6) == [(3, 0), (9, 0), (5, 1), (7, 1)]
    assert index.query_many(np.array([4], dtype=np.uint64), radius=0) == [[(7, 0)]]


def test_a_radius_beyond_the_built_one_is_refused() -> None:
    index = HammingIndex(radius=6, parts=4)
    with pytest.raises(InvalidInput) as error:
        index.query(0, 7)
    assert (error.value.field, error.value.limit) == ("radius", 6)
    with pytest.raises(InvalidInput, match="radius"):
        index.query(0, -1)
    with pytest.raises(InvalidInput, match="radius"):
        HammingIndex(radius=17)


@pytest.mark.parametrize(
    ("ids", "hashes", "field"),
    [
        (np.array([1, 2]), np.array([1], dtype=np.uint64), "hashes"),
        (np.array([1]), np.array([-1]), "hashes"),
        (np.array([1]), [2**64], "hashes"),
        (np.array([1]), np.array([1.0]), "hashes"),
        (np.array([2**63], dtype=np.uint64), np.array([1], dtype=np.uint64), "ids"),
        (np.array([[1]]), np.array([[1]], dtype=np.uint64), "ids"),
        (np.array([1.5]), np.array([1], dtype=np.uint64), "ids"),
    ],
)
def test_malformed_batches_name_the_field(ids: np.ndarray, hashes: object, field: str) -> None:
    with pytest.raises(InvalidInput) as error:
        HammingIndex(parts=4).add(ids, hashes)
    assert error.value.field == field


def test_plain_integer_lists_are_taken_whole() -> None:
    # numpy alone would read [1, 2**63] as floats and lose the low bits.
    index = HammingIndex(parts=4, merge_threshold=1)
    index.add([1, 2], [1, 2**63 + 1])
    assert index.query(2**63 + 1, 0) == [(2, 0)]
    assert index.query(1, 0) == [(1, 0)]


def test_hashes_outside_64_bits_and_too_few_parts_are_refused() -> None:
    with pytest.raises(InvalidInput, match="hash"):
        HammingIndex(parts=4).query(2**64)
    with pytest.raises(InvalidInput, match="parts"):
        HammingIndex(parts=2)


def test_rows_are_limited_to_32_bits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_index, "MAX_ITEMS", 2)
    index = HammingIndex(parts=4)
    with pytest.raises(TooLarge):
        index.add(np.arange(3), np.zeros(3, dtype=np.uint64))


def test_a_large_batch_learns_a_layout_and_stays_exact() -> None:
    # Prepare: 6,000 hashes in tight families (enough to learn from), queried near a member.
    rng = np.random.default_rng(3)
    centers = rng.integers(0, 2**64, 600, dtype=np.uint64)
    flips = np.uint64(1) << rng.integers(0, 64, (6000, 3)).astype(np.uint64)
    hashes = np.repeat(centers, 10) ^ flips[:, 0] ^ flips[:, 1] ^ flips[:, 2]
    ids = np.arange(hashes.size) * 3
    index = HammingIndex(parts=4)
    # Execute
    index.add(ids, hashes)
    index.merge()
    # Assert
    assert index.layout != HammingIndex(parts=4).layout
    assert sorted(index.layout.permutation) == list(range(64))
    for query in hashes[::500].tolist():
        assert index.query(query) == brute_force(ids.tolist(), hashes.tolist(), query, 8)
