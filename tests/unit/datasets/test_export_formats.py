"""Each export loaded back with the library its users load it with, and compared with the manifest."""

from __future__ import annotations

import dataclasses
import gc
import io
import json
import tarfile
import tomllib
import warnings
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import pyarrow.parquet as pq
import pytest
import webdataset as wds
from PIL import Image
from tests.unit.datasets._export_samples import image_dataset, item, manifest, mixed_dataset, put, store_at

from datacoop.datasets.export import EXPORTERS, datasheet, get_exporter, huggingface, parquet, webdataset
from datacoop.datasets.export._samples import extension, item_bytes, item_json, manifest_bytes, manifest_frame
from datacoop.datasets.manifest import Manifest, canonical_json
from datacoop.errors import IntegrityError, InvalidInput

REPO = Path(__file__).resolve().parents[3]


def _labels(rows: list[dict[str, object]]) -> list[object]:
    return [json.loads(str(row["labels"])) for row in rows]


def _read_webdataset(shards: list[str]) -> list[dict[str, object]]:
    """Every sample, read by webdataset's own WebDataset pipeline."""
    # webdataset opens each shard and never closes it: collect those streams here, where the
    # ResourceWarning is expected, rather than in whichever test the garbage collector runs next.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        samples = list(wds.WebDataset(shards, shardshuffle=False, empty_check=False))
        gc.collect()
    return samples


def test_webdataset_shards_load_back_with_webdataset(tmp_path: Path) -> None:
    # Prepare
    store = store_at(tmp_path)
    version, blobs = image_dataset(store, 12)
    calls: list[tuple[int, int]] = []
    # Execute
    result = webdataset.export(
        version, store.open, tmp_path / "out", shard_items=5, progress=lambda d, t: calls.append((d, t))
    )
    shards = [str(path) for path in result.files if path.suffix == ".tar"]
    samples = _read_webdataset(shards)
    # Assert
    assert [Path(s).name for s in shards] == [f"dataset-v2-{n:06d}.tar" for n in range(3)]
    assert [s["__key__"] for s in samples] == [f"{i:08d}" for i in range(12)]
    assert [s["png"] for s in samples] == blobs
    assert [json.loads(s["json"]) for s in samples] == [i.to_json() for i in version.items]
    assert calls[-1] == (12, 12) and len(calls) == 12
    assert result.blob_bytes == sum(map(len, blobs))
    assert Manifest.from_bytes((tmp_path / "out" / "manifest.json").read_bytes()) == version


def test_webdataset_shards_close_before_the_byte_limit_and_are_reproducible(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    version, _ = image_dataset(store, 9)
    limit = 8000  # a sample (512-byte PNG and ~800 bytes of JSON, headers, padding) takes 2,560 bytes
    first = webdataset.export(version, store.open, tmp_path / "a", shard_bytes=limit)
    second = webdataset.export(version, store.open, tmp_path / "b", shard_bytes=limit)
    tars = [path for path in first.files if path.suffix == ".tar"]
    per_shard = []
    for path in tars:
        with tarfile.open(path) as tar:
            per_shard.append(len(tar.getnames()) // 2)
    assert per_shard == [3, 3, 3]
    assert all(path.stat().st_size <= limit + tarfile.RECORDSIZE for path in tars)
    assert [p.read_bytes() for p in first.files] == [p.read_bytes() for p in second.files]


def test_a_blob_of_the_wrong_size_stops_the_export_and_leaves_no_shard(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    version, blobs = image_dataset(store, 3)

    def short(cid: str) -> BinaryIO:
        return io.BytesIO(blobs[1][:-1]) if cid == version.items[1].cid else store.open(cid)

    with pytest.raises(IntegrityError) as error:
        webdataset.export(version, short, tmp_path / "out")
    assert error.value.field == "cid" and version.items[1].cid in error.value.message
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize(
    ("option", "field"), [("shard_items", "--shard-items"), ("shard_bytes", "--shard-bytes")]
)
def test_shard_limits_below_one_are_refused_naming_the_option(
    tmp_path: Path, option: str, field: str
) -> None:
    store = store_at(tmp_path)
    version, _ = image_dataset(store, 1)
    with pytest.raises(InvalidInput) as error:
        webdataset.export(version, store.open, tmp_path / "out", **{option: 0})
    assert error.value.field == field and error.value.limit == 1


def test_parquet_rows_load_back_with_pyarrow_in_bounded_row_groups(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    version, blobs = image_dataset(store, 10)
    result = parquet.export(version, store.open, tmp_path / "out", with_bytes=True, row_group_items=4)
    data = pq.ParquetFile(result.files[0])
    rows = data.read().to_pylist()
    assert data.metadata.num_row_groups == 3
    assert [row["bytes"] for row in rows] == blobs
    assert [row["cid"] for row in rows] == [i.cid for i in version.items]
    assert _labels(rows) == [i.labels for i in version.items]
    assert [int(row["nonce"]) for row in rows] == [i.nonce for i in version.items]  # past int64, exact
    assert [row["contributor"] for row in rows] == [i.contributor for i in version.items]


def test_parquet_without_bytes_has_only_metadata_and_groups_by_blob_bytes(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    version, _ = image_dataset(store, 6)
    metadata_only = parquet.export(version, store.open, tmp_path / "meta")
    by_bytes = parquet.export(version, store.open, tmp_path / "bytes", with_bytes=True, row_group_bytes=1000)
    assert "bytes" not in pq.read_schema(metadata_only.files[0]).names
    assert metadata_only.blob_bytes == 0
    assert pq.ParquetFile(by_bytes.files[0]).metadata.num_row_groups == 3  # two ~500-byte blobs a group


def _load_offline(folder: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import datasets
    import huggingface_hub.constants

    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    return datasets.load_dataset(str(folder), cache_dir=str(cache))


def test_hugging_face_folder_loads_offline_in_one_call_with_images(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = store_at(tmp_path)
    version, blobs = image_dataset(store, 7)
    huggingface.export(version, store.open, tmp_path / "hf")
    loaded = _load_offline(tmp_path / "hf", tmp_path / "cache", monkeypatch)
    train = loaded["train"]  # type: ignore[index]
    assert train.num_rows == 7
    assert train.features["image"].__class__.__name__ == "Image"
    for row, blob, expected in zip(train, blobs, version.items, strict=True):
        assert row["image"].tobytes() == Image.open(io.BytesIO(blob)).tobytes()
        assert json.loads(row["labels"]) == expected.labels and row["cid"] == expected.cid
    card = (tmp_path / "hf" / "README.md").read_text()
    assert card.startswith('---\nlicense: "cc-by-4.0"') and "## Composition" in card


def test_hugging_face_text_items_load_as_a_text_column(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = store_at(tmp_path)
    texts = ["first line\n", "zweite Zeile\n", "ligne trois ✓\n"]
    items = [item(i, put(store, t.encode()), len(t.encode()), "text/plain") for i, t in enumerate(texts)]
    huggingface.export(manifest(items), store.open, tmp_path / "hf")
    train = _load_offline(tmp_path / "hf", tmp_path / "cache", monkeypatch)["train"]  # type: ignore[index]
    assert train["text"] == texts and [json.loads(x) for x in train["labels"]] == [i.labels for i in items]


def test_datasheet_has_every_section_and_the_counts(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    version, _ = image_dataset(store, 8)
    sheet = datasheet.export(version, store.open, tmp_path / "out").files[0].read_text()
    for section in ("Motivation", "Composition", "Collection process", "Preprocessing", "Uses"):
        assert f"## {section}" in sheet
    assert "## Distribution" in sheet and "## Maintenance" in sheet
    assert "| DE | 2 | 25.0% |" in sheet  # 8 items over 4 jurisdictions
    assert "| cat | 3 | 37.5% |" in sheet and "accepted: 8" in sheet
    assert "8 items (4,096 bytes) from 3 contributors" in sheet


def test_every_registered_format_loads_and_unknown_ones_are_refused_with_a_suggestion() -> None:
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["entry-points"]
    assert declared["datacoop.exporters"] == EXPORTERS
    assert all(callable(get_exporter(name)) for name in EXPORTERS)
    with pytest.raises(InvalidInput) as error:
        get_exporter("webdatset")
    assert error.value.field == "--format" and "Did you mean 'webdataset'?" in error.value.message


def test_an_out_path_that_is_a_file_is_refused(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    version, _ = image_dataset(store, 1)
    (tmp_path / "file").write_text("x")
    with pytest.raises(InvalidInput) as error:
        parquet.export(version, store.open, tmp_path / "file")
    assert error.value.field == "--out"


def test_the_fast_paths_give_the_manifests_own_bytes_and_tarfiles_own_headers(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    version, _ = image_dataset(store, 3)
    assert manifest_bytes(version) == version.to_bytes()
    assert [item_json(i) for i in version.items] == [i.to_json() for i in version.items]
    assert [item_bytes(i) for i in version.items] == [canonical_json(i.to_json()) for i in version.items]
    frame = manifest_frame(version)
    assert frame is not None
    assert frame[0] + b",".join(map(item_bytes, version.items)) + frame[1] == version.to_bytes()
    for name, size, mtime in [
        ("00000001.jpg", 100_000, 1_763_632_800),
        ("x.json", 0, 0),
        ("a" * 99, 8**11 - 1, 0),  # the fast path's limits
        ("a" * 100, 1, 0),  # from here on tarfile's own path: a name without its NUL,
        ("é" * 120, 1, 0),  # a long non-ASCII name (a GNU longname block first),
        ("big.bin", 8**11, 0),  # a size in base-256,
        ("old.bin", 1, -1),  # a time before 1970
    ]:
        reference = tarfile.TarInfo(name)
        reference.size, reference.mtime, reference.mode = size, mtime, 0o444
        expected = reference.tobuf(tarfile.GNU_FORMAT, "utf-8", "surrogateescape")
        assert webdataset.HeaderWriter(mtime)(name, size) == expected, name


@pytest.mark.parametrize("shard_items", [3, 5])
def test_shards_are_byte_for_byte_the_tars_tarfile_writes(tmp_path: Path, shard_items: int) -> None:
    # Shards of 3 end with a blob of 2.5 MB: its archive end needs more than a record of zeros.
    store = store_at(tmp_path)
    version, blobs = mixed_dataset(store)
    shards = webdataset.export(version, store.open, tmp_path / "out", shard_items=shard_items).files[:-1]
    mtime = int(datetime.fromisoformat(version.created_at.replace("Z", "+00:00")).timestamp())
    expected = []
    for start in range(0, len(blobs), shard_items):
        tar_bytes = io.BytesIO()
        with tarfile.open(fileobj=tar_bytes, mode="w", format=tarfile.GNU_FORMAT) as tar:
            for entry, blob in list(zip(version.items, blobs, strict=True))[start : start + shard_items]:
                metadata = canonical_json(entry.to_json())  # its entry in manifest.json, byte for byte
                for name, data in (
                    (f"{entry.index:08d}.{extension(entry.media_type)}", blob),
                    (f"{entry.index:08d}.json", metadata),
                ):
                    info = tarfile.TarInfo(name)
                    info.size, info.mtime, info.mode = len(data), mtime, 0o444
                    tar.addfile(info, io.BytesIO(data))
        expected.append(tar_bytes.getvalue())
    assert [path.read_bytes() for path in shards] == expected


def test_webdataset_writes_the_manifest_as_samples_go_and_it_is_the_versions_bytes(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    version, _ = mixed_dataset(store)
    files = webdataset.export(version, store.open, tmp_path / "out", shard_items=2).files
    assert files[-1].name == "manifest.json" and files[-1].read_bytes() == version.to_bytes()
    # A query holding the items' placeholder as a list: the listing cannot be streamed, it is written whole.
    named = dataclasses.replace(manifest([*version.items[:1]]), query={"tags": ["\x00datacoop items\x00"]})
    assert manifest_frame(named) is None
    files = webdataset.export(named, store.open, tmp_path / "named").files
    assert files[-1].read_bytes() == named.to_bytes()


def test_a_sample_whose_json_passes_the_write_buffer_loads_back(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    data = b"tiny"
    version = manifest([item(0, put(store, data), len(data), "text/plain", labels={"note": "x" * 1_200_000})])
    shard = webdataset.export(version, store.open, tmp_path / "out").files[0]
    with tarfile.open(shard) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]
    assert members["00000000.txt"] == data
    assert json.loads(members["00000000.json"]) == version.items[0].to_json()
