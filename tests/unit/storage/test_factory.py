"""open_store builds the store the settings describe."""

from __future__ import annotations

from pathlib import Path

import pytest

from datacoop.settings import Settings
from datacoop.storage import LocalBlobStore, open_store


def test_local_by_default(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "node")
    store = open_store(settings)
    assert isinstance(store, LocalBlobStore)
    assert store.root == tmp_path / "node" / "blobs"
    assert store.default_profile == settings.cid_profile


@pytest.mark.s3
def test_s3_when_configured(tmp_path: Path, s3_endpoint: str, s3_bucket: str) -> None:
    # Prepare
    from datacoop.storage.s3 import S3BlobStore

    settings = Settings(
        data_dir=tmp_path / "node", blob_store="s3", s3_bucket=s3_bucket, s3_endpoint_url=s3_endpoint
    )

    # Execute
    store = open_store(settings)
    info = store.put([b"through the factory"], max_bytes=100)

    # Assert
    assert isinstance(store, S3BlobStore)
    assert store.spool_dir == tmp_path / "node" / "spool"
    assert store.health()["bucket"] == s3_bucket
    assert store.stat(info.cid).size == len(b"through the factory")
