"""Datasets: frozen, versioned sets of accepted items with a verifiable manifest.

Public surface::

    MANIFEST_SCHEMA, Manifest, ManifestItem     the manifest of one version (canonical JSON, Merkle root)
    canonical_json, items_root                  the encodings the manifest CID and root are made from
"""

from __future__ import annotations

from datacoop.datasets.manifest import (
    ITEM_LEAF_ENCODING,
    MANIFEST_SCHEMA,
    Manifest,
    ManifestItem,
    canonical_json,
    items_root,
)

__all__ = [
    "ITEM_LEAF_ENCODING",
    "MANIFEST_SCHEMA",
    "Manifest",
    "ManifestItem",
    "canonical_json",
    "items_root",
]
