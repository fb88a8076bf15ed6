"""Signed download tokens, Range parsing, and the tar export read from any offset."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datacoop.errors import Forbidden, Gone, InvalidInput
from datacoop.exchange.delivery import (
    DeliveryClaim,
    Member,
    TarExport,
    extension,
    parse_range,
    read_token,
    sign_token,
)
from datacoop.storage.local import LocalBlobStore

SECRET = "s" * 64
CLAIM = DeliveryClaim(order_id=7, buyer="0x" + "ab" * 20, licence_id=3, expires=2_000)


def test_a_token_reads_back_its_claim_until_it_expires() -> None:
    token = sign_token(SECRET, CLAIM)
    assert read_token(SECRET, token, now=1_999) == CLAIM
    with pytest.raises(Gone) as expired:
        read_token(SECRET, token, now=2_000)
    assert (expired.value.field, expired.value.limit) == ("token", 2_000)


@pytest.mark.parametrize("change", ["other secret", "payload edited", "mac edited", "no mac"])
def test_a_token_changed_in_any_way_is_refused(change: str) -> None:
    token = sign_token(SECRET, CLAIM)
    payload, mac = token.split(".")
    other = sign_token(SECRET, DeliveryClaim(8, CLAIM.buyer, CLAIM.licence_id, CLAIM.expires)).split(".")[0]
    forged = {
        "other secret": sign_token("t" * 64, CLAIM),
        "payload edited": f"{other}.{mac}",
        "mac edited": f"{payload}.{'0' * len(mac)}",
        "no mac": payload,
    }[change]
    with pytest.raises(Forbidden) as refused:
        read_token(SECRET, forged, now=0)
    assert refused.value.field == "token"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-9", (0, 9)),
        ("bytes=5-", (5, 99)),
        ("bytes=-10", (90, 99)),
        ("bytes=90-500", (90, 99)),
    ],
)
def test_range_headers(header: str | None, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, 100) == expected


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=7-3", "bytes=-", "items=0-1", "bytes=0-1,5-6"])
def test_bad_or_unsatisfiable_ranges_name_the_field(header: str) -> None:
    with pytest.raises(InvalidInput) as error:
        parse_range(header, 100)
    assert error.value.field == "range"


@pytest.fixture
def export(tmp_path: Path) -> tuple[TarExport, bytes, dict[str, bytes]]:
    store = LocalBlobStore(tmp_path / "blobs")
    files = {"000000.jpg": b"\xff\xd8" + bytes(range(256)) * 5, "000001.txt": b"hello"}
    members = [Member.inline("order.json", b'{"id":1}')]
    for name, data in files.items():
        cid = store.put([data], max_bytes=1 << 20).cid
        members.append(Member.blob(name, cid, len(data)))
    built = TarExport(members, store.open)
    whole = b"".join(built.iter_range(0, built.size - 1))
    return built, whole, {"order.json": b'{"id":1}', **files}


def test_the_export_is_a_tar_of_every_member(export: tuple[TarExport, bytes, dict[str, bytes]]) -> None:
    built, whole, files = export
    assert len(whole) == built.size and built.size % 512 == 0
    with tarfile.open(fileobj=io.BytesIO(whole)) as tar:
        read = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]
        assert all(m.mtime == 0 and m.mode == 0o644 for m in tar.getmembers())
    assert read == files


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])  # read-only fixture
@given(st.data())
def test_any_range_is_the_same_slice_of_the_whole(
    export: tuple[TarExport, bytes, dict[str, bytes]], data: st.DataObject
) -> None:
    built, whole, _ = export
    start = data.draw(st.integers(0, built.size - 1))
    end = data.draw(st.integers(start, built.size - 1))
    assert b"".join(built.iter_range(start, end, chunk=97)) == whole[start : end + 1]


def test_extensions_follow_the_media_type() -> None:
    assert [extension(t) for t in ("image/jpeg", "image/png", "text/plain", "x/unknown")] == [
        "jpg", "png", "txt", "bin",
    ]  # fmt: skip
