"""Keccak-256 (Ethereum's hash) as fast as the installed packages allow.

``hashlib.sha3_256`` pads differently from Keccak and gives other digests, and OpenSSL 3.0 has no
Keccak, so the hash comes from a package. Backends, fastest first (measured per 64-byte hash):

- ``sha3.keccak_256`` of safe-pysha3, a C extension (~0.7 µs), where it is installed;
- pycryptodome's compiled Keccak called directly through its cffi handle (~1.2 µs);
- pycryptodome's public ``Crypto.Hash.keccak`` (~3.6 µs: Python wrapping around each call).

A 1,000,000-leaf tree needs ~3,000,000 hashes, so the backend decides most of its build time.
The raw pycryptodome backend keeps one C state per :class:`Hasher`: make one per thread
(:func:`new_hasher`), never share one across threads.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["BACKEND", "Hasher", "new_hasher"]

# Known answers: keccak256(b"") and keccak256(b"abc").
_EMPTY = bytes.fromhex("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")
_ABC = bytes.fromhex("4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45")
_KECCAK_PADDING = 0x01  # SHA-3 would be 0x06
_CAPACITY_BYTES = 64  # 2 x 256-bit output
_ROUNDS = 24


@dataclass(frozen=True, slots=True)
class Hasher:
    """Keccak-256 functions for one thread: ``keccak(data)`` and ``keccak2(data) = keccak(keccak(data))``."""

    keccak: Callable[[bytes], bytes]
    keccak2: Callable[[bytes], bytes]


class _Digest(Protocol):
    def digest(self) -> bytes: ...


class _Buffer(Protocol):
    def __getitem__(self, key: slice) -> bytes: ...


def _pysha3() -> Callable[[], Hasher] | None:
    try:
        module = importlib.import_module("sha3")
    except ImportError:
        return None
    new: Callable[[bytes], _Digest] = module.keccak_256

    def one(data: bytes) -> bytes:
        return new(data).digest()

    def two(data: bytes) -> bytes:
        return new(new(data).digest()).digest()

    hasher = Hasher(one, two)  # stateless, so one instance serves every thread
    return lambda: hasher


def _pycryptodome_raw() -> Callable[[], Hasher] | None:
    # Private parts of pycryptodome: looked up defensively and checked against known answers below.
    keccak_module = importlib.import_module("Crypto.Hash.keccak")
    raw_api = importlib.import_module("Crypto.Util._raw_api")
    lib: Any = getattr(keccak_module, "_raw_keccak_lib", None)
    ffi: Any = getattr(raw_api, "ffi", None)
    if lib is None or ffi is None or getattr(raw_api, "backend", None) != "cffi":
        return None

    def factory() -> Hasher:
        holder = ffi.new("void **")
        if lib.keccak_init(holder, _CAPACITY_BYTES, _ROUNDS):
            raise MemoryError("keccak_init failed")
        state = ffi.gc(holder[0], lib.keccak_destroy)
        out = ffi.new("uint8_t[32]")
        view: _Buffer = ffi.buffer(out)
        reset, absorb, squeeze = lib.keccak_reset, lib.keccak_absorb, lib.keccak_digest

        def one(data: bytes) -> bytes:
            reset(state)
            absorb(state, data, len(data))
            squeeze(state, out, 32, _KECCAK_PADDING)
            return view[:]

        def two(data: bytes) -> bytes:
            reset(state)
            absorb(state, data, len(data))
            squeeze(state, out, 32, _KECCAK_PADDING)
            reset(state)
            absorb(state, out, 32)  # the first digest is hashed again without leaving C
            squeeze(state, out, 32, _KECCAK_PADDING)
            return view[:]

        return Hasher(one, two)

    return factory


def _pycryptodome_public() -> Callable[[], Hasher]:
    from Crypto.Hash import keccak

    def one(data: bytes) -> bytes:
        return keccak.new(data=data, digest_bits=256).digest()

    def two(data: bytes) -> bytes:
        return one(one(data))

    hasher = Hasher(one, two)
    return lambda: hasher


def _answers_correctly(factory: Callable[[], Hasher]) -> bool:
    try:
        hasher = factory()
        # Twice in a row on one state, so a backend that fails to reset is caught too.
        return (hasher.keccak(b""), hasher.keccak(b"abc"), hasher.keccak2(b"")) == (
            _EMPTY,
            _ABC,
            hasher.keccak(_EMPTY),
        )
    except Exception:  # a private API that changed shape counts as "not this backend"
        return False


def _choose() -> tuple[str, Callable[[], Hasher]]:
    for name, probe in (("pysha3", _pysha3), ("pycryptodome-raw", _pycryptodome_raw)):
        try:
            factory = probe()
        except Exception:
            continue
        if factory is not None and _answers_correctly(factory):
            return name, factory
    return "pycryptodome", _pycryptodome_public()


# Chosen once at import; BACKEND names it (``pysha3``, ``pycryptodome-raw`` or ``pycryptodome``).
BACKEND, _FACTORY = _choose()


def new_hasher() -> Hasher:
    """A :class:`Hasher` for the calling thread (cheap: a few microseconds)."""
    return _FACTORY()
