"""Blob storage: the :class:`BlobStore` port, its adapters and the factory the composition root calls.

``LocalBlobStore`` is imported here; ``S3BlobStore`` only inside :func:`open_store`,
so boto3 (the ``s3`` extra) is needed only by nodes configured for S3.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from datacoop.storage.base import BlobInfo, BlobStore, BlobWriter
from datacoop.storage.local import LocalBlobStore

if TYPE_CHECKING:
    from datacoop.settings import Settings

__all__ = ["BlobInfo", "BlobStore", "BlobWriter", "LocalBlobStore", "open_store"]


def open_store(settings: Settings) -> BlobStore:
    """The blob store ``settings`` describe: a local directory, or an S3 bucket."""
    if settings.blob_store == "s3":
        from datacoop.storage.s3 import S3BlobStore

        assert settings.s3_bucket is not None  # Settings refuses s3 without a bucket
        return S3BlobStore(
            settings.s3_bucket,
            settings.s3_prefix,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            default_profile=settings.cid_profile,
            # Spool next to the node's data: the system temp dir may be RAM and too small for big blobs.
            spool_dir=settings.data_dir / "spool",
        )
    return LocalBlobStore(settings.resolved_blob_dir, default_profile=settings.cid_profile)
