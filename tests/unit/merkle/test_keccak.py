"""Every Keccak backend gives Keccak-256 (not SHA3-256), and EIP-55 comes out as eth_utils makes it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from hypothesis import given
from hypothesis import strategies as st

from datacoop.merkle import _keccak
from datacoop.merkle._address import checksum_address, checksum_bodies
from datacoop.merkle._keccak import Hasher, new_hasher

BACKENDS: dict[str, Callable[[], Callable[[], Hasher] | None]] = {
    "pysha3": _keccak._pysha3,
    "pycryptodome-raw": _keccak._pycryptodome_raw,
    "pycryptodome": _keccak._pycryptodome_public,
}


@pytest.mark.parametrize("name", BACKENDS)
def test_backend_gives_keccak256(name: str) -> None:
    factory = BACKENDS[name]()
    if factory is None:
        pytest.skip(f"{name} is not installed here (an optional, faster backend)")
    hasher = factory()
    for data in (b"", b"abc", bytes(64), bytes(range(200))):  # 200 bytes: more than one 136-byte block
        assert hasher.keccak(data) == keccak(data)
        assert hasher.keccak2(data) == keccak(keccak(data))


def test_the_chosen_backend_is_the_fastest_installed() -> None:
    installed = [name for name, probe in BACKENDS.items() if probe() is not None]
    assert installed[0] == _keccak.BACKEND


def test_hashers_in_separate_threads_do_not_share_state() -> None:
    first, second = new_hasher(), new_hasher()
    assert first.keccak(b"a") == second.keccak(b"a") == keccak(b"a")


@given(raw=st.lists(st.binary(min_size=20, max_size=20), min_size=1, max_size=8))
def test_checksums_match_eth_utils(raw: list[bytes]) -> None:
    keccak_fn = new_hasher().keccak
    expected = [to_checksum_address(address) for address in raw]
    assert [checksum_address(address.hex(), keccak_fn) for address in raw] == expected
    assert checksum_bodies("".join(address.hex() for address in raw), keccak_fn) == "".join(
        address[2:] for address in expected
    )
