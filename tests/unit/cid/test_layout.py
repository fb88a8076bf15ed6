"""The streaming builder against the in-memory reference encoder, at every tree boundary."""

from __future__ import annotations

import random

import pytest
from tests.unit.cid.reference import chunked, go_layout, js_layout, reference_cid

from datacoop.cid import DEFAULT_PROFILE, Profile, cid_of_bytes

SMALL = Profile("tiny", chunk_size=16, max_links=3)
WIDE = Profile("wide", chunk_size=64, max_links=174)  # kubo's width, tiny chunks: deep trees for little data
DEEP = Profile("deep", chunk_size=DEFAULT_PROFILE.chunk_size, max_links=3)  # kubo's chunks, narrow nodes


def data_of(size: int, seed: int = 1) -> bytes:
    """Deterministic bytes with no repeated chunk, so a misplaced leaf changes the CID."""
    return random.Random(seed).randbytes(size)


def boundary_sizes(profile: Profile, levels: int = 3) -> list[int]:
    """0, 1, and chunk counts of full trees (max_links ** n) with one chunk or byte either side."""
    c, m = profile.chunk_size, profile.max_links
    sizes = {0, 1, c - 1, c, c + 1, 2 * c}
    for level in range(1, levels + 1):
        full = m**level * c
        sizes |= {full - c, full - 1, full, full + 1, full + c, full + c + 1}
    return sorted(size for size in sizes if size >= 0)


@pytest.mark.parametrize("size", boundary_sizes(SMALL, levels=5))
def test_small_profile_matches_reference_at_boundaries(size: int) -> None:
    data = data_of(size)
    assert cid_of_bytes(data, SMALL) == reference_cid(data, SMALL.chunk_size, SMALL.max_links)


@pytest.mark.parametrize("size", boundary_sizes(WIDE, levels=2))
def test_kubo_width_matches_reference_at_boundaries(size: int) -> None:
    data = data_of(size)
    assert cid_of_bytes(data, WIDE) == reference_cid(data, WIDE.chunk_size, WIDE.max_links)


@pytest.mark.parametrize("size", boundary_sizes(DEEP, levels=2))
def test_kubo_chunks_match_reference_at_boundaries(size: int) -> None:
    data = data_of(size)
    assert cid_of_bytes(data, DEEP) == reference_cid(data, DEEP.chunk_size, DEEP.max_links)


@pytest.mark.parametrize("size", boundary_sizes(DEFAULT_PROFILE, levels=1))
def test_kubo_profile_matches_reference_at_boundaries(size: int) -> None:
    # Up to 175 chunks of 256 KiB (about 46 MB): the real profile where it is affordable.
    data = data_of(size)
    expected = reference_cid(data, DEFAULT_PROFILE.chunk_size, DEFAULT_PROFILE.max_links)
    assert cid_of_bytes(data) == expected


def test_every_size_of_a_small_profile_matches_reference() -> None:
    profile = Profile("tinier", chunk_size=3, max_links=2)
    data = data_of(3 * 2**5 + 7)
    for size in range(len(data) + 1):
        expected = reference_cid(data[:size], profile.chunk_size, profile.max_links)
        assert cid_of_bytes(data[:size], profile) == expected, size


@pytest.mark.parametrize("chunks", [*range(1, 40), 81, 82, 90, 243, 244, 245, 250])
def test_js_and_go_layouts_build_the_same_tree(chunks: int) -> None:
    # The two importers are written differently (bottom-up batches vs top-down filling);
    # they must agree, or one of the references misreads its source.
    leaves = chunked(data_of(chunks * 4), 4)
    assert js_layout(leaves, 3).cid == go_layout(leaves, 3).cid


def test_upper_levels_keep_single_child_nodes() -> None:
    # Prepare: one chunk more than a full two-level tree of width 3.
    leaves = chunked(data_of(10 * 4), 4)

    # Execute
    root = js_layout(leaves, 3)

    # Assert: root -> [full subtree, node -> node -> leaf]; every leaf at depth 3.
    assert [len(child.children) for child in root.children] == [3, 1]
    assert len(root.children[1].children[0].children) == 1
    assert root.depths() == {3}
    assert cid_of_bytes(b"".join(leaves), Profile("p", 4, 3)) == root.text
