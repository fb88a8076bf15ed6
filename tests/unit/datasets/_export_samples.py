"""Manifests for the export tests: real blobs in a real LocalBlobStore, items built with ManifestItem.

No database and no review: the exporters take a Manifest and a way to open blobs, nothing else.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from datacoop.datasets.manifest import Manifest, ManifestItem
from datacoop.storage import LocalBlobStore

CLASSES = ("cat", "dog", "bird")
JURISDICTIONS = ("DE", "FR", "KE", "BR")
DOMAIN = {"name": "DataCoop", "version": "1", "chainId": 31337, "verifyingContract": "0x" + "44" * 20}
ADDRESSES = ("0x" + "11" * 20, "0x" + "22" * 20, "0x" + "33" * 20)


def png(seed: int, side: int = 12) -> bytes:
    """A small PNG that differs for every seed (pixels from a seeded generator)."""
    rng = random.Random(seed)
    image = Image.new("RGB", (side, side))
    image.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(side * side)])
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _hex32(text: str) -> str:
    return "0x" + hashlib.sha256(text.encode()).hexdigest()


def item(index: int, cid: str, size: int, media_type: str, **changes: Any) -> ManifestItem:
    """A well-formed item; ``changes`` override any field."""
    values: dict[str, Any] = {
        "index": index,
        "submission_id": 100 + index,
        "cid": cid,
        "original_cid_hash": _hex32(f"original-{index}"),
        "size": size,
        "media_type": media_type,
        "labels": {"class": CLASSES[index % 3], "tags": [f"t{index % 2}"], "boxes": [[1, 2, 3, 4]]},
        "quality": {"blur": 100.5 + index, "phash": f"{index:016x}"},
        "contributor": f"did:pkh:eip155:31337:{ADDRESSES[index % 3]}",
        "task_id": 7,
        "nonce": 2**64 - 1 - index,  # beyond int64: the uint256 the contributor signed
        "deadline": 1_900_000_000 + index,
        "consent_hash": _hex32("consent"),
        "jurisdiction": JURISDICTIONS[index % 4],
        "licence": "CC-BY-4.0",
        "signature": "0x" + f"{index:02x}" * 65,
        "review": {"outcome": "accepted", "votes": 3, "posterior": 0.97},
    }
    values.update(changes)
    return ManifestItem(**values)


def manifest(items: Sequence[ManifestItem], *, version: int = 2, name: str = "street-cats") -> Manifest:
    return Manifest.create(
        items=items,
        dataset_id=1,
        name=name,
        version=version,
        created_at="2026-11-20T10:00:00Z",
        query={"tasks": [7], "jurisdictions": list(JURISDICTIONS)},
        licence="CC-BY-4.0",
        eip712_domain=DOMAIN,
        previous=None,
        changes={"added": [i.submission_id for i in items], "removed": []},
    )


def put(store: LocalBlobStore, data: bytes, profile: str | None = None) -> str:
    with store.writer(max_bytes=len(data) + 1, profile=profile) as writer:
        writer.write(data)
        return writer.commit().cid


def image_dataset(
    store: LocalBlobStore, count: int = 12, *, version: int = 2
) -> tuple[Manifest, list[bytes]]:
    """``count`` distinct PNG items, with their bytes in manifest order."""
    blobs = [png(seed) for seed in range(count)]
    items = [item(i, put(store, data), len(data), "image/png") for i, data in enumerate(blobs)]
    return manifest(items, version=version), blobs


def mixed_dataset(store: LocalBlobStore) -> tuple[Manifest, list[bytes]]:
    """Items of several media types and sizes: empty, one chunk, several chunks, another CID profile."""
    blobs = [png(1), b"", b"hello, world\n", os.urandom(700_000), os.urandom(2_500_000)]
    media = ["image/png", "text/plain", "text/plain", "application/octet-stream", "application/octet-stream"]
    profiles = [None, None, None, None, "unixfs-v1-2025"]
    items = [
        item(i, put(store, data, profile), len(data), media[i])
        for i, (data, profile) in enumerate(zip(blobs, profiles, strict=True))
    ]
    return manifest(items), blobs


def store_at(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs")
