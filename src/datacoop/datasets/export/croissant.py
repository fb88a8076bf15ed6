"""Croissant (MLCommons, 1.1): ``croissant.json`` describing the Parquet export written beside it.

The folder holds ``dataset-v{n}.parquet`` (one row per item, optionally with
the bytes), ``manifest.json`` and ``croissant.json``. The JSON-LD lists both
files as ``FileObject``\\ s with their SHA-256, one ``RecordSet`` (``items``)
whose fields read the Parquet columns, the licence, creator and citation, the
Responsible-AI properties (``rai:``) the manifest can fill, and provenance in
the W3C PROV vocabulary: the export ``prov:wasDerivedFrom`` the manifest, named
by its CID. ``mlcroissant`` validates it and iterates its records.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from datacoop.cid import cid_of_bytes
from datacoop.datasets.export import datasheet
from datacoop.datasets.export._base import (
    COPY_BUFFER,
    ExportResult,
    OpenBlob,
    OptionName,
    Progress,
    atomic_file,
    prepare_out_dir,
    write_manifest,
)
from datacoop.datasets.export._samples import manifest_bytes
from datacoop.datasets.export.parquet import BlobColumn, metadata_schema, parquet_name, write_parquet
from datacoop.datasets.manifest import Manifest

__all__ = ["CONFORMS_TO", "FILE_NAME", "OPTIONS", "describe", "export"]

OPTIONS: frozenset[OptionName] = frozenset({"with_bytes", "manifest_cid"})
"""The options :mod:`datacoop.datasets.exporting` passes this exporter (see :data:`._base.OptionName`)."""

FILE_NAME = "croissant.json"
CONFORMS_TO = "http://mlcommons.org/croissant/1.1"
_CONTEXT: dict[str, Any] = {  # the Croissant 1.1 context, plus PROV for provenance
    "@language": "en",
    "@vocab": "https://schema.org/",
    "arrayShape": "cr:arrayShape",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "containedIn": "cr:containedIn",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "description": {"@container": "@language"},
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isArray": "cr:isArray",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "name": {"@container": "@language"},
    "parentField": "cr:parentField",
    "path": "cr:path",
    "prov": "http://www.w3.org/ns/prov#",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}
_DATA_TYPES = {"int64": "sc:Integer", "string": "sc:Text"}


def export(
    manifest: Manifest,
    open_blob: OpenBlob,
    out_dir: Path,
    *,
    progress: Progress | None = None,
    with_bytes: bool = False,
    manifest_cid: str | None = None,
) -> ExportResult:
    """Write the Parquet file, ``manifest.json`` and ``croissant.json`` describing them.

    Args:
        with_bytes: also put each blob in the Parquet file (an ``ImageObject`` field for images).
        manifest_cid: the version's manifest CID as the node stored it (default: computed from
            the manifest's bytes with the default CID profile).
    """
    out_dir = prepare_out_dir(out_dir)
    blob = _blob_column(manifest) if with_bytes else None
    data = out_dir / parquet_name(manifest.version)
    blob_bytes = write_parquet(
        manifest.iter_items(), open_blob, data, total=manifest.item_count, blob=blob, progress=progress
    )
    manifest_file = write_manifest(manifest, out_dir)
    document = describe(manifest, data, manifest_file, blob=blob, manifest_cid=manifest_cid)
    path = out_dir / FILE_NAME
    with atomic_file(path) as partial:
        partial.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return ExportResult("croissant", (data, manifest_file, path), manifest.item_count, blob_bytes)


def describe(
    manifest: Manifest,
    data: Path,
    manifest_file: Path,
    *,
    blob: BlobColumn | None = None,
    manifest_cid: str | None = None,
) -> dict[str, Any]:
    """The Croissant JSON-LD of an export whose Parquet file is ``data``."""
    cid = manifest_cid or cid_of_bytes(manifest_bytes(manifest))
    return {
        "@context": _CONTEXT,
        "@type": "sc:Dataset",
        "name": manifest.name,
        "description": _description(manifest),
        "conformsTo": CONFORMS_TO,
        "version": f"{manifest.version}.0.0",
        "datePublished": manifest.created_at,
        "license": manifest.licence,
        "url": f"ipfs://{cid}",
        "creator": {"@type": "sc:Organization", "name": "DataCoop contributors"},
        "citeAs": _citation(manifest, cid),
        "keywords": ["DataCoop", "crowdsourced", *sorted({i.media_type for i in manifest.iter_items()})],
        "distribution": [
            _file_object("manifest-json", manifest_file, "application/json"),
            _file_object("parquet-file", data, "application/x-parquet"),
        ],
        "recordSet": [_record_set(blob)],
        **_responsible_ai(manifest),
        **_provenance(manifest, cid),
    }


def _blob_column(manifest: Manifest) -> BlobColumn:
    images = all(item.media_type.startswith("image/") for item in manifest.iter_items())
    return BlobColumn("image" if images else "bytes", "binary")


def _description(manifest: Manifest) -> str:
    return (
        f"Version {manifest.version} of the DataCoop dataset {manifest.name!r}: {manifest.item_count} "
        f"accepted, consented items, each traceable to an EIP-712-signed contribution. Items root "
        f"{manifest.items_root}."
    )


def _citation(manifest: Manifest, cid: str) -> str:
    year = manifest.created_at[:4]
    key = "".join(ch for ch in manifest.name if ch.isalnum()) or "dataset"
    title = f"{manifest.name}, version {manifest.version}"
    return (
        f"@misc{{datacoop_{key}_v{manifest.version}, title = {{{title}}}, "
        f"author = {{DataCoop contributors}}, year = {{{year}}}, howpublished = {{ipfs://{cid}}}}}"
    )


def _file_object(node_id: str, path: Path, encoding: str) -> dict[str, Any]:
    return {
        "@type": "cr:FileObject",
        "@id": node_id,
        "name": path.name,
        "contentUrl": path.name,
        "contentSize": f"{path.stat().st_size} B",
        "encodingFormat": encoding,
        "sha256": _sha256(path),
    }


def _record_set(blob: BlobColumn | None) -> dict[str, Any]:
    fields = []
    for column in metadata_schema(blob):
        if blob is not None and column.name == blob.name:
            data_type = "sc:ImageObject" if blob.name == "image" else "sc:Text"
        else:
            data_type = _DATA_TYPES[str(column.type)]
        fields.append(
            {
                "@type": "cr:Field",
                "@id": f"items/{column.name}",
                "name": column.name,
                "description": _FIELD_DESCRIPTIONS.get(column.name, column.name),
                "dataType": data_type,
                "source": {"fileObject": {"@id": "parquet-file"}, "extract": {"column": column.name}},
            }
        )
    return {
        "@type": "cr:RecordSet",
        "@id": "items",
        "name": "items",
        "description": "One record per item of the version, in manifest order.",
        "key": {"@id": "items/key"},
        "field": fields,
    }


def _responsible_ai(manifest: Manifest) -> dict[str, Any]:
    sheet = datasheet.render(manifest)
    return {
        "rai:dataCollection": _section(sheet, "Collection process"),
        "rai:dataCollectionType": ["Crowdsourced"],
        "rai:dataPreprocessingProtocol": [_section(sheet, "Preprocessing, cleaning and labelling")],
        "rai:dataAnnotationProtocol": (
            "Labels come from staked community validators, aggregated per item; gold items score validators."
        ),
        "rai:personalSensitiveInformation": [
            "Contributors appear only as wallet DIDs; EXIF/GPS is scrubbed and personal data screened out."
        ],
        "rai:dataUseCases": [
            f"Uses permitted by the licence {manifest.licence} and the contributors' consent."
        ],
        "rai:dataReleaseMaintenancePlan": [_section(sheet, "Maintenance")],
    }


def _provenance(manifest: Manifest, cid: str) -> dict[str, Any]:
    derived = [{"@id": f"ipfs://{cid}"}]
    if manifest.previous:
        derived.append({"@id": f"ipfs://{manifest.previous}"})
    return {
        "prov:wasDerivedFrom": derived,
        "prov:wasGeneratedBy": {
            "@type": "prov:Activity",
            "prov:label": "datacoop dataset export --format croissant",
            "prov:endedAtTime": manifest.created_at,
        },
    }


def _section(markdown: str, title: str) -> str:
    """One ``## title`` section of the datasheet, without its heading."""
    _, _, rest = markdown.partition(f"## {title}\n")
    return rest.split("\n## ", 1)[0].strip()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(COPY_BUFFER):
            digest.update(chunk)
    return digest.hexdigest()


_FIELD_DESCRIPTIONS = {
    "key": "the item's key in every export (its manifest index, zero-padded)",
    "index": "position in the manifest (its Merkle leaf index)",
    "submission_id": "the DataCoop submission the item comes from",
    "cid": "CIDv1 of the served (scrubbed) blob, as on IPFS",
    "original_cid_hash": "keccak256 of the original upload's CID (the signed value)",
    "size": "bytes of the blob",
    "media_type": "media type sniffed by pre-screening",
    "labels": "review labels, JSON text",
    "quality": "pre-screening quality scores, JSON text",
    "contributor": "the contributor's wallet as a did:pkh DID",
    "task_id": "the task the item was submitted to",
    "nonce": "the signed nonce (uint256, decimal text)",
    "deadline": "the signature's deadline (unix seconds)",
    "consent_hash": "hash of the consent text the contributor agreed to",
    "jurisdiction": "ISO 3166-1 alpha-2 code of the contributor's jurisdiction",
    "licence": "the item's licence",
    "signature": "the contributor's EIP-712 signature",
    "review": "the review outcome, JSON text",
}
