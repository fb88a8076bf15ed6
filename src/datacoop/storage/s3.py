"""Blobs in any S3-compatible object store (AWS S3, MinIO, Ceph, Garage, moto).

A blob is the object ``<prefix><cid>``; its CID profile travels in the object's
metadata (``x-amz-meta-cid-profile``). Writers spool to an anonymous local
file while hashing, so memory stays bounded and the CID is known before
anything is sent; commit then uploads with boto3's managed transfer
(multipart past ``part_size``), and the object only becomes visible once the
upload completes. botocore failures become :class:`~datacoop.errors.NotFound`
(no such key) or :class:`~datacoop.errors.Unavailable` (anything else).
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path
from typing import Any, BinaryIO

import boto3
from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from datacoop.cid import DEFAULT_PROFILE_NAME, get_profile, parse_cid
from datacoop.errors import InvalidInput, NotFound, Unavailable
from datacoop.storage._spool import SpoolingWriter
from datacoop.storage.base import BlobInfo, BlobStore, BlobWriter

__all__ = ["S3BlobStore"]

MiB = 1 << 20
PROFILE_KEY = "cid-profile"  # sent as the x-amz-meta-cid-profile header
_MISSING = {"404", "NoSuchKey", "NotFound"}


class S3BlobStore(BlobStore):
    """Blobs as objects in one bucket under one key prefix.

    Args:
        bucket: the bucket, which must exist.
        prefix: key prefix of every blob (``"blobs/"``).
        endpoint_url: an S3-compatible endpoint; None means AWS.
        region: the bucket's region.
        client: a ready boto3 S3 client (overrides endpoint_url and region).
        default_profile: CID profile for writers that name none.
        spool_dir: where writers spool (the system temp dir if None; it may be RAM-backed).
        part_size: multipart threshold and part size of uploads (at least 5 MiB).
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "blobs/",
        *,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        client: Any | None = None,
        default_profile: str = DEFAULT_PROFILE_NAME,
        spool_dir: Path | None = None,
        part_size: int = 64 * MiB,
    ) -> None:
        if part_size < 5 * MiB:
            raise InvalidInput("S3 parts must be at least 5 MiB", field="part_size", limit=5 * MiB)
        self.bucket, self.prefix = bucket, prefix
        self.default_profile = get_profile(default_profile).name
        self._client = client if client is not None else _make_client(endpoint_url, region)
        self.spool_dir = spool_dir
        if spool_dir is not None:
            spool_dir.mkdir(parents=True, exist_ok=True)
        self._transfer = TransferConfig(multipart_threshold=part_size, multipart_chunksize=part_size)

    def writer(self, *, max_bytes: int, profile: str | None = None) -> BlobWriter:
        name = get_profile(profile or self.default_profile).name
        # An anonymous file: the OS removes it even if this process is killed mid-upload.
        spool = tempfile.TemporaryFile(dir=self.spool_dir)  # noqa: SIM115 (the writer closes it)
        return _S3Writer(self, spool, profile=name, max_bytes=max_bytes)

    def stat(self, cid: str) -> BlobInfo:
        cid = parse_cid(cid, field="cid")
        head = self._head(cid)
        if head is None:
            raise _not_found(cid)
        return _info(cid, head)

    def open(self, cid: str) -> BinaryIO:
        cid = parse_cid(cid, field="cid")
        with _mapped_errors("get_object"):
            try:
                response = self._client.get_object(Bucket=self.bucket, Key=self.prefix + cid)
            except ClientError as exc:
                if _error_code(exc) in _MISSING:
                    raise _not_found(cid) from None
                raise
        return io.BufferedReader(_BodyReader(response["Body"]), buffer_size=MiB)

    def delete(self, cid: str) -> None:
        cid = parse_cid(cid, field="cid")
        with _mapped_errors("delete_object"):
            self._client.delete_object(Bucket=self.bucket, Key=self.prefix + cid)

    def list(self) -> Iterator[BlobInfo]:
        """Every blob under the prefix; one HEAD each, since listings carry no metadata."""
        with _mapped_errors("list_objects_v2"):
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix
            )
            for page in pages:
                for obj in page.get("Contents", []):
                    info = self._listed(str(obj["Key"])[len(self.prefix) :])
                    if info is not None:
                        yield info

    def health(self) -> dict[str, object]:
        with _mapped_errors("head_bucket"):
            self._client.head_bucket(Bucket=self.bucket)
        return {"kind": "s3", "bucket": self.bucket, "prefix": self.prefix}

    def _publish(self, spool: BinaryIO, cid: str, profile: str) -> BlobInfo:
        """Upload a finished spool under ``cid`` unless that object exists already."""
        key = self.prefix + cid
        with _mapped_errors("upload"):
            head = self._head(cid)
            if head is None:
                spool.seek(0)
                extra: dict[str, Any] = {"Metadata": {PROFILE_KEY: profile}}
                self._client.upload_fileobj(spool, self.bucket, key, ExtraArgs=extra, Config=self._transfer)
            else:
                # An upload is about to name this blob: a self-copy renews LastModified,
                # which restarts GC's grace window on it.
                source = {"Bucket": self.bucket, "Key": key}
                extra = {"Metadata": head.get("Metadata", {}), "MetadataDirective": "REPLACE"}
                self._client.copy(source, self.bucket, key, ExtraArgs=extra, Config=self._transfer)
        return self.stat(cid)

    def _head(self, cid: str) -> dict[str, Any] | None:
        with _mapped_errors("head_object"):
            try:
                head: dict[str, Any] = self._client.head_object(Bucket=self.bucket, Key=self.prefix + cid)
            except ClientError as exc:
                if _error_code(exc) in _MISSING:
                    return None
                raise
        return head

    def _listed(self, name: str) -> BlobInfo | None:
        try:
            cid = parse_cid(name, field="cid")
        except InvalidInput:
            return None  # some other object shares the prefix: not ours to report
        head = self._head(cid)
        return None if head is None else _info(cid, head)


class _S3Writer(SpoolingWriter):
    def __init__(self, store: S3BlobStore, spool: BinaryIO, *, profile: str, max_bytes: int) -> None:
        super().__init__(spool, profile=get_profile(profile), max_bytes=max_bytes)
        self._store, self._profile_name = store, profile

    def _publish(self, cid: str) -> BlobInfo:
        return self._store._publish(self._spool, cid, self._profile_name)

    def _discard(self) -> None:
        pass  # the spool is anonymous: closing it freed it


class _BodyReader(io.RawIOBase):
    """A botocore StreamingBody as a raw stream, so reads fail with Unavailable too."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        with _mapped_errors("read"):
            data: bytes = self._body.read(len(view))
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


def _make_client(endpoint_url: str | None, region: str) -> Any:
    options: dict[str, Any] = {
        "retries": {"mode": "standard", "max_attempts": 4},
        "connect_timeout": 5,
        "read_timeout": 60,
    }
    if endpoint_url is not None:
        # Self-hosted S3 (MinIO, Ceph, a localhost moto) rarely has per-bucket DNS names.
        options["s3"] = {"addressing_style": "path"}
    return boto3.client("s3", endpoint_url=endpoint_url, region_name=region, config=Config(**options))


def _info(cid: str, head: dict[str, Any]) -> BlobInfo:
    metadata: dict[str, str] = head.get("Metadata", {})
    # An object someone put by hand has no profile; kubo's defaults are what `ipfs add` names.
    profile = metadata.get(PROFILE_KEY, DEFAULT_PROFILE_NAME)
    stored_at = head["LastModified"].astimezone(UTC)
    return BlobInfo(cid=cid, size=int(head["ContentLength"]), profile=profile, stored_at=stored_at)


def _not_found(cid: str) -> NotFound:
    return NotFound(f"no blob {cid} in this store", field="cid")


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@contextmanager
def _mapped_errors(action: str) -> Iterator[None]:
    """Re-raise botocore failures as Unavailable; callers turn a missing key into NotFound first."""
    try:
        yield
    except ClientError as exc:
        raise Unavailable(f"S3 {action} failed: {_error_code(exc) or exc}") from exc
    except (BotoCoreError, S3UploadFailedError) as exc:
        raise Unavailable(f"S3 {action} failed: {exc}") from exc
