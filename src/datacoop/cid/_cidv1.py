"""CIDv1 bytes and text: the fixed prefixes DataCoop uses, base32 in and out, and :func:`parse_cid`.

Every CID DataCoop makes is ``<version 1><codec><sha2-256 multihash>`` in
multibase base32 (lower case, ``b`` prefix). The codecs and the hash are fixed,
so the binary prefix is a constant and a CID is built by concatenation rather
than through a general multiformats object (this runs once per leaf).
"""

from __future__ import annotations

import base64
import binascii

from datacoop.errors import InvalidInput

__all__ = ["DAG_PB_PREFIX", "RAW_PREFIX", "cid_binary", "cid_text", "parse_cid"]

_CID_V1 = 0x01
_RAW = 0x55  # multicodec "raw": a leaf holds file bytes as they are
_DAG_PB = 0x70  # multicodec "dag-pb": inner UnixFS nodes
_SHA2_256 = 0x12
_DIGEST_LENGTH = 32
_CODEC_NAMES = {_RAW: "raw", _DAG_PB: "dag-pb"}

RAW_PREFIX = bytes((_CID_V1, _RAW, _SHA2_256, _DIGEST_LENGTH))
DAG_PB_PREFIX = bytes((_CID_V1, _DAG_PB, _SHA2_256, _DIGEST_LENGTH))
_CID_LENGTH = len(RAW_PREFIX) + _DIGEST_LENGTH
_TEXT_LENGTH = 1 + (_CID_LENGTH * 8 + 4) // 5  # multibase prefix + unpadded base32
_EXPECTED = (
    "expected a CIDv1 in base32 ('b...', as `ipfs add --cid-version=1` prints) "
    "of codec raw or dag-pb with a sha2-256 hash"
)


def cid_text(binary: bytes) -> str:
    """The multibase base32 text of a binary CID (``b`` + lower-case base32, no padding)."""
    return "b" + base64.b32encode(binary).decode("ascii").rstrip("=").lower()


# base32 (RFC 4648, lower case) read as a base-32 number: int() takes the digits 0-9a-v. Every
# other ASCII character becomes "!", which int() refuses (it would take "1", "A", "_" or a space).
_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"
_AS_DIGITS = {code: "!" for code in range(128)} | str.maketrans(_BASE32, "0123456789abcdefghijklmnopqrstuv")
_PAD_BITS = (_TEXT_LENGTH - 1) * 5 - _CID_LENGTH * 8  # the zero bits that fill the last character


def cid_binary(text: str) -> bytes | None:
    """The binary CID of a CID in canonical text (as :func:`cid_text` writes it), or None if it is not.

    A fast path for comparing many CIDs (no error messages, no checks of the codec).
    """
    if len(text) != _TEXT_LENGTH or text[0] != "b" or not text.isascii():
        return None
    try:
        number = int(text[1:].translate(_AS_DIGITS), 32)
    except ValueError:
        return None
    if number & ((1 << _PAD_BITS) - 1):
        return None
    return (number >> _PAD_BITS).to_bytes(_CID_LENGTH, "big")


def parse_cid(text: str, field: str = "cid") -> str:
    """Check that ``text`` is a CID DataCoop can name a blob with, and return its canonical form.

    Accepted: CIDv1, multibase base32 (``b``, or ``B`` upper case), codec raw or
    dag-pb, sha2-256. The answer is always the lower-case base32 text.

    Args:
        text: the CID as given by a user or a peer.
        field: the input field it came from, named in the error.

    Returns:
        The CID in canonical text form.

    Raises:
        InvalidInput: for anything else (CIDv0, other bases, codecs or hashes, bad characters).
    """
    if not isinstance(text, str) or not text:
        raise _refused(field, "is empty" if text == "" else f"is not text ({type(text).__name__})")
    if text.startswith("Qm") and len(text) == 46:
        raise _refused(field, f"{_shown(text)} is a CIDv0")
    if text[0] not in "bB":
        raise _refused(field, f"{_shown(text)} is not multibase base32")
    binary = _decode_base32(text[1:], field, text)
    _check_binary(binary, field, text)
    return cid_text(binary)


def _decode_base32(body: str, field: str, text: str) -> bytes:
    if len(body) + 1 != _TEXT_LENGTH or not body.isascii():
        raise _refused(field, f"{_shown(text)} has {len(text)} characters, not {_TEXT_LENGTH}")
    try:
        return base64.b32decode(body.upper() + "=" * (-len(body) % 8))
    except (binascii.Error, ValueError):
        raise _refused(field, f"{_shown(text)} is not valid base32") from None


def _check_binary(binary: bytes, field: str, text: str) -> None:
    version, codec, hash_code, digest_length = binary[:4]
    if version != _CID_V1:
        raise _refused(field, f"{_shown(text)} is not a CIDv1")
    if codec not in _CODEC_NAMES:
        raise _refused(field, f"{_shown(text)} has codec 0x{codec:02x}")
    if (hash_code, digest_length) != (_SHA2_256, _DIGEST_LENGTH):
        raise _refused(field, f"{_shown(text)} is not hashed with sha2-256")


def _shown(text: str) -> str:
    return repr(text if len(text) <= 80 else text[:77] + "...")


def _refused(field: str, reason: str) -> InvalidInput:
    return InvalidInput(f"{field} {reason}: {_EXPECTED}", field=field)
