"""A node secret in the data directory: made once, private, and the same for every reader."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from datacoop.storage.keyfile import node_secret


def test_a_secret_is_made_once_readable_by_its_owner_only(tmp_path: Path) -> None:
    first = node_secret(tmp_path / "download_secret")
    again = node_secret(tmp_path / "download_secret")
    assert first == again and len(first) == 64 and bytes.fromhex(first)
    assert (tmp_path / "download_secret").stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["download_secret"]  # no temporary file left


def test_readers_starting_at_once_agree_on_one_secret(tmp_path: Path) -> None:
    with ThreadPoolExecutor(8) as pool:
        seen = set(pool.map(lambda _: node_secret(tmp_path / "s"), range(32)))
    assert len(seen) == 1 and len(seen.pop()) == 64
