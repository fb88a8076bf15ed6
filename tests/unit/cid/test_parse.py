"""parse_cid: what a user may hand in as a CID, and what is refused with a reason."""

from __future__ import annotations

import hashlib

import pytest
from multiformats import CID, multihash

from datacoop.cid import cid_of_bytes, parse_cid
from datacoop.cid._cidv1 import cid_binary
from datacoop.errors import InvalidInput

RAW = "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"  # b"hello world"
DAG_PB = "bafybeiedpcapwld4tkgtzwahfofgn4wex5ryysf4se6hwpmlrsh4ntnrau"  # the 1 MiB vector


@pytest.mark.parametrize("cid", [RAW, DAG_PB, cid_of_bytes(b"")])
def test_canonical_cids_come_back_unchanged(cid: str) -> None:
    assert parse_cid(cid) == cid


def test_upper_case_base32_is_normalised() -> None:
    assert parse_cid(RAW.upper()) == RAW


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "is empty"),
        ("QmaozNR7DZHQK1ZcU9p7QdrshMvXqWK6gpu5rmrkPdT3L4", "CIDv0"),
        (str(CID.decode(RAW).set(base="base58btc")), "not multibase base32"),
        (RAW[:-1], "characters"),
        (RAW + "a", "characters"),
        (RAW[:10] + "1" + RAW[11:], "not valid base32"),  # '1' is outside base32's alphabet
        (RAW[:10] + "é" + RAW[11:], "characters"),
        (str(CID.decode(RAW).set(codec="dag-cbor")), "codec 0x71"),
        ("../../etc/passwd", "not multibase base32"),
        ("b" + "a" * 58, "not a CIDv1"),
    ],
)
def test_refusals_name_the_field_and_what_is_expected(text: str, reason: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_cid(text, field="body.cid")
    assert caught.value.field == "body.cid"
    assert reason in caught.value.message
    assert "expected a CIDv1 in base32" in caught.value.message


def test_other_hashes_are_refused() -> None:
    # Prepare: a raw CIDv1 of the same length whose multihash is sha3-256 (code 0x16).
    sha3 = str(CID("base32", 1, "raw", multihash.wrap(hashlib.sha3_256(b"x").digest(), "sha3-256")))

    # Execute / Assert
    with pytest.raises(InvalidInput, match="sha2-256"):
        parse_cid(sha3)


def test_non_text_is_refused() -> None:
    with pytest.raises(InvalidInput, match="not text"):
        parse_cid(b"bafy" * 10)  # type: ignore[arg-type]


@pytest.mark.parametrize("cid", [RAW, DAG_PB, cid_of_bytes(b"")])
def test_cid_binary_reads_canonical_text_as_the_multiformats_library_does(cid: str) -> None:
    assert cid_binary(cid) == bytes(CID.decode(cid))


@pytest.mark.parametrize(
    "text",
    [
        RAW.upper(),  # not canonical: parse_cid first
        RAW[:-1],  # a character short
        RAW + "a",  # one too many
        RAW[:-1] + "f",  # the last character's unused bits set
        RAW[:10] + "1" + RAW[11:],  # not a base32 character
        RAW[:10] + "é" + RAW[11:],
        RAW[:10] + "F" + RAW[11:],  # upper case inside
        RAW[:10] + "_" + RAW[11:],  # int() would skip it
        RAW[:-1] + " ",
        "z" + RAW[1:],  # another multibase
    ],
)
def test_cid_binary_answers_none_for_anything_but_canonical_text(text: str) -> None:
    assert cid_binary(text) is None
