"""The one export path: the order archive read from any offset, the one tar format, typed options.

The archive tests moved here from ``tests/unit/exchange/test_delivery.py`` with the tar writer
(the exchange delivers what :func:`datacoop.datasets.exporting.order_archive` lays out).
"""

from __future__ import annotations

import inspect
import io
import tarfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.unit.datasets._export_samples import image_dataset, item, manifest, put, store_at

from datacoop.datasets.export import EXPORTERS, get_format
from datacoop.datasets.export._samples import extension, item_bytes
from datacoop.datasets.export._tar import Member, TarArchive
from datacoop.datasets.exporting import ExportOptions, check_options, export, export_offline, order_archive
from datacoop.errors import IntegrityError, InvalidInput

ORDER = b'{"id":1}'


@pytest.fixture
def archive(tmp_path: Path) -> tuple[TarArchive, bytes, dict[str, bytes]]:
    store = store_at(tmp_path)
    blobs = {"000000.jpg": b"\xff\xd8" + bytes(range(256)) * 5, "000001.txt": b"hello"}
    media = {"jpg": "image/jpeg", "txt": "text/plain"}
    items = [
        item(i, put(store, data), len(data), media[name.split(".")[1]])
        for i, (name, data) in enumerate(blobs.items())
    ]
    built = order_archive(manifest(items), [0, 1], [("order.json", ORDER)], store)
    whole = b"".join(built.iter_range(0, built.size - 1))
    entries = {f"{i.index:06d}.json": item_bytes(i) for i in items}
    return built, whole, {"order.json": ORDER, **blobs, **entries}


def test_the_archive_is_a_tar_of_every_member(archive: tuple[TarArchive, bytes, dict[str, bytes]]) -> None:
    built, whole, files = archive
    assert len(whole) == built.size and built.size % 512 == 0
    with tarfile.open(fileobj=io.BytesIO(whole)) as tar:
        names = tar.getnames()
        read = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]
        assert all(m.mtime == 0 and m.mode == 0o644 for m in tar.getmembers())
    assert read == files
    assert names == ["order.json", "000000.jpg", "000000.json", "000001.txt", "000001.json"]


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])  # read-only fixture
@given(st.data())
def test_any_range_is_the_same_slice_of_the_whole(
    archive: tuple[TarArchive, bytes, dict[str, bytes]], data: st.DataObject
) -> None:
    built, whole, _ = archive
    start = data.draw(st.integers(0, built.size - 1))
    end = data.draw(st.integers(start, built.size - 1))
    assert b"".join(built.iter_range(start, end, chunk=97)) == whole[start : end + 1]


def test_the_archive_is_byte_for_byte_the_tar_tarfile_writes_as_webdataset_shards_are() -> None:
    files = {"order.json": ORDER, "a" * 120: b"long name", "000000.bin": bytes(1000), "empty": b""}
    built = TarArchive([Member.inline(n, d) for n, d in files.items()], io.BytesIO, mtime=7, mode=0o640)
    expected = io.BytesIO()
    with tarfile.open(fileobj=expected, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 7, 0o640
            tar.addfile(info, io.BytesIO(data))
    assert b"".join(built.iter_range(0, built.size - 1)) == expected.getvalue()


def test_extensions_follow_the_media_type() -> None:
    assert [extension(t) for t in ("image/jpeg", "image/png", "text/plain", "x/unknown")] == [
        "jpg", "png", "txt", "bin",
    ]  # fmt: skip


def test_every_format_declares_only_options_its_exporter_takes() -> None:
    for name in EXPORTERS:
        chosen = get_format(name)
        keywords = {
            p.name for p in inspect.signature(chosen.exporter).parameters.values() if p.kind == p.KEYWORD_ONLY
        }
        assert chosen.options <= keywords, name
    assert get_format("webdataset").options == {"shard_bytes", "shard_items"}
    assert get_format("datasheet").options == frozenset()


@pytest.mark.parametrize(
    ("format_name", "options", "flag"),
    [
        ("car", ExportOptions(with_bytes=True), "--with-bytes"),
        ("parquet", ExportOptions(shard_items=3), "--shard-items"),
        ("datasheet", ExportOptions(shard_bytes=1000), "--shard-size"),
    ],
)
def test_an_option_the_format_does_not_take_is_refused_naming_both(
    format_name: str, options: ExportOptions, flag: str
) -> None:
    with pytest.raises(InvalidInput) as error:
        check_options(format_name, options)
    assert error.value.field == flag
    assert error.value.message == f"{flag} does not apply to --format {format_name}"


def test_unset_options_are_not_passed_and_the_node_facts_go_to_formats_that_declare_them(
    tmp_path: Path,
) -> None:
    store = store_at(tmp_path)
    version, _ = image_dataset(store, 3)
    other_cid = version.items[0].cid
    with pytest.raises(IntegrityError) as wrong:  # car checks the manifest CID it is given
        export(version, other_cid, "car", tmp_path / "car", store=store)
    sheet = export(version, other_cid, "datasheet", tmp_path / "sheet", store=store, options=None)
    shards = export(
        version, "x", "webdataset", tmp_path / "wds", store=store, options=ExportOptions(shard_items=1)
    )
    assert wrong.value.field == "manifest_cid"
    assert sheet.format == "datasheet" and [p.suffix for p in shards.files] == [".tar"] * 3 + [".json"]


def test_an_offline_export_reads_a_blob_folder_and_needs_one_for_bytes(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    version, blobs = image_dataset(store, 2)
    data = version.to_bytes()
    done = export_offline(
        data, "x", "parquet", tmp_path / "pq", blobs=store.root, options=ExportOptions(with_bytes=True)
    )
    with pytest.raises(InvalidInput) as not_a_folder:
        export_offline(data, "x", "datasheet", tmp_path / "s", blobs=tmp_path / "nowhere")
    with pytest.raises(InvalidInput) as no_store:
        export_offline(data, "x", "webdataset", tmp_path / "wds", blobs=None)
    assert done.blob_bytes == sum(map(len, blobs))
    assert not_a_folder.value.field == no_store.value.field == "--blobs"
    assert not list((tmp_path / "wds").glob("*.tar"))
