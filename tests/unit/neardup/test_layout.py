"""The cut of the bits: the pigeonhole guarantee, permutations, probe plans and learning."""

from __future__ import annotations

from math import comb

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datacoop.neardup import Layout
from datacoop.neardup._layout import flip_masks, part_radii, part_widths, popcount, probe_plan
from datacoop.neardup._learn import learn_layout


@settings(max_examples=300)
@given(parts=st.integers(3, 9), radius=st.integers(0, 16), diff=st.integers(0, 2**64 - 1))
def test_some_part_is_within_its_probe_radius_of_any_neighbour(parts: int, radius: int, diff: int) -> None:
    # The pigeonhole bound the whole index rests on, checked on the raw part layout.
    if diff.bit_count() > radius:
        return
    widths = part_widths(parts)
    starts = np.cumsum((0, *widths))
    part_diffs = [(diff >> int(s) & ((1 << w) - 1)).bit_count() for s, w in zip(starts, widths, strict=False)]
    radii = part_radii(parts, radius)
    assert any(d <= r for d, r in zip(part_diffs, radii, strict=True))


def test_widths_cover_64_bits_widest_first() -> None:
    assert part_widths(3) == (22, 21, 21)
    assert part_widths(9) == (8, 7, 7, 7, 7, 7, 7, 7, 7)
    assert part_radii(3, 8) == (2, 2, 2)
    assert part_radii(4, 8) == (2, 1, 1, 1)
    assert part_radii(9, 8) == (0,) * 9  # nine parts: some part matches exactly
    assert part_radii(3, 7) == (2, 2, 1)


def test_probe_plan_of_the_default_cut_reads_718_buckets() -> None:
    layout = Layout.interleaved(3)
    part, flips = probe_plan(layout, 8)
    assert part.size == flips.size == 254 + 232 + 232
    assert flip_masks(21, 2).size == 1 + 21 + comb(21, 2)
    assert probe_plan(layout, 0)[0].tolist() == [0]


@given(values=st.lists(st.integers(0, 2**64 - 1), max_size=20), seed=st.integers(0, 2**32))
def test_permutation_round_trips_and_agrees_with_the_scalar_form(values: list[int], seed: int) -> None:
    order = tuple(int(b) for b in np.random.default_rng(seed).permutation(64))
    layout = Layout(part_widths(4), order)
    array = np.array(values, dtype=np.uint64)
    permuted = layout.permute(array)
    assert layout.unpermute(permuted).tolist() == values
    assert permuted.tolist() == [layout.permute_one(v) for v in values]
    assert popcount(permuted).tolist() == [v.bit_count() for v in values]


def test_learning_is_deterministic_and_yields_a_permutation() -> None:
    rng = np.random.default_rng(1)
    # Biased, correlated bits: a block of bits copied from a few shared patterns.
    hashes = rng.integers(0, 2**64, 20_000, dtype=np.uint64) & np.uint64(0xFFFF_FFFF_0000_FFFF)
    hashes |= rng.choice(np.array([0, 0xABCD_0000, 0xFFFF_0000], dtype=np.uint64), hashes.size)
    first = learn_layout(hashes, 3, 8)
    assert first == learn_layout(hashes, 3, 8)
    assert sorted(first.permutation) == list(range(64))
    assert first.widths == (22, 21, 21)


def test_learning_from_nothing_near_keeps_the_interleaved_cut() -> None:
    assert learn_layout(np.arange(10, dtype=np.uint64), 3, 8) == Layout.interleaved(3)


def test_popcount_without_numpy_2_counts_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    values = np.array([0, 1, 2**64 - 1, 0xF0F0, 2**63], dtype=np.uint64)
    monkeypatch.delattr(np, "bitwise_count")
    assert popcount(values).tolist() == [0, 1, 64, 8, 1]
