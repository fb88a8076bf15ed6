"""Croissant: mlcroissant validates the JSON-LD and iterates exactly the version's records."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import mlcroissant as mlc
import pytest
from PIL import Image
from tests.unit.datasets._export_samples import image_dataset, store_at

from datacoop.cid import cid_of_bytes
from datacoop.datasets.export import croissant

# Deprecations inside the consumer library's own stack, not in what DataCoop writes: rdflib (under
# mlcroissant) uses its deprecated ConjunctiveGraph, and mlcroissant calls reset_index(inplace=True).
pytestmark = [
    pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame.reset_index is deprecated"),
]


def _records(path: Path) -> tuple[mlc.Dataset, list[dict[str, object]]]:
    dataset = mlc.Dataset(jsonld=str(path))
    return dataset, list(dataset.records("items"))


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def test_croissant_validates_and_iterates_every_item_with_its_labels(tmp_path: Path) -> None:
    # Prepare
    store = store_at(tmp_path)
    version, _ = image_dataset(store, 9)
    # Execute
    result = croissant.export(version, store.open, tmp_path / "out")
    dataset, records = _records(tmp_path / "out" / "croissant.json")
    # Assert
    assert result.files[-1] == tmp_path / "out" / "croissant.json"
    assert not dataset.metadata.issues.errors and not dataset.metadata.issues.warnings
    assert [_text(r["items/cid"]) for r in records] == [i.cid for i in version.items]
    assert [json.loads(_text(r["items/labels"])) for r in records] == [i.labels for i in version.items]
    assert [_text(r["items/jurisdiction"]) for r in records] == [i.jurisdiction for i in version.items]
    assert [_text(r["items/contributor"]) for r in records] == [i.contributor for i in version.items]
    assert [int(_text(r["items/nonce"])) for r in records] == [i.nonce for i in version.items]
    assert [r["items/index"] for r in records] == list(range(9))


def test_croissant_names_its_files_by_sha256_and_its_provenance_by_manifest_cid(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    version, _ = image_dataset(store, 3)
    croissant.export(version, store.open, tmp_path / "out")
    document = json.loads((tmp_path / "out" / "croissant.json").read_text())
    for entry in document["distribution"]:
        data = (tmp_path / "out" / entry["contentUrl"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
    manifest_cid = cid_of_bytes(version.to_bytes())
    assert document["prov:wasDerivedFrom"] == [{"@id": f"ipfs://{manifest_cid}"}]
    assert document["license"] == "CC-BY-4.0" and manifest_cid in document["citeAs"]
    assert document["conformsTo"] == croissant.CONFORMS_TO
    assert "rai:dataCollection" in document and "Consent" in document["rai:dataCollection"]


def test_croissant_with_bytes_yields_the_images(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    version, blobs = image_dataset(store, 4)
    croissant.export(version, store.open, tmp_path / "out", with_bytes=True)
    dataset, records = _records(tmp_path / "out" / "croissant.json")
    assert not dataset.metadata.issues.errors
    images = [record["items/image"] for record in records]
    assert [image.tobytes() for image in images] == [Image.open(io.BytesIO(b)).tobytes() for b in blobs]
