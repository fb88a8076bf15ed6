"""What only the S3 store promises: object layout, metadata, multipart, error mapping."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from datacoop.cid import cid_of_bytes
from datacoop.errors import Unavailable
from datacoop.storage.s3 import S3BlobStore

pytestmark = pytest.mark.s3

MiB = 1 << 20


@pytest.fixture
def s3_store(s3_bucket: str, s3_endpoint: str, tmp_path: Path) -> S3BlobStore:
    return S3BlobStore(s3_bucket, endpoint_url=s3_endpoint, spool_dir=tmp_path / "spool", part_size=5 * MiB)


def test_object_key_and_profile_metadata(s3_store: S3BlobStore, s3_client: Any) -> None:
    info = s3_store.put([b"with metadata"], max_bytes=100)
    head = s3_client.head_object(Bucket=s3_store.bucket, Key=f"blobs/{info.cid}")
    assert head["Metadata"] == {"cid-profile": "kubo-cidv1"}
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-meta-cid-profile"] == "kubo-cidv1"


def test_large_blob_goes_up_in_parts(s3_store: S3BlobStore, s3_client: Any) -> None:
    # Prepare
    data = bytes(range(256)) * (11 * MiB // 256)

    # Execute
    info = s3_store.put([data], max_bytes=12 * MiB)

    # Assert: a multipart ETag ends in "-<number of parts>"
    head = s3_client.head_object(Bucket=s3_store.bucket, Key=f"blobs/{info.cid}")
    assert head["ETag"].strip('"').endswith("-3")
    assert s3_client.list_multipart_uploads(Bucket=s3_store.bucket).get("Uploads", []) == []


def test_list_ignores_foreign_objects_under_the_prefix(s3_store: S3BlobStore, s3_client: Any) -> None:
    # Prepare
    s3_client.put_object(Bucket=s3_store.bucket, Key="blobs/README.txt", Body=b"not a blob")
    s3_client.put_object(Bucket=s3_store.bucket, Key="elsewhere/x", Body=b"not under the prefix")
    info = s3_store.put([b"ours"], max_bytes=100)

    # Execute
    listed = [i.cid for i in s3_store.list()]

    # Assert
    assert listed == [info.cid]


def test_object_without_profile_metadata_reads_as_the_default(s3_store: S3BlobStore, s3_client: Any) -> None:
    cid = cid_of_bytes(b"put by hand")
    s3_client.put_object(Bucket=s3_store.bucket, Key=f"blobs/{cid}", Body=b"put by hand")
    assert s3_store.stat(cid).profile == "kubo-cidv1"
    assert s3_store.verify(cid)


def test_prefix_keeps_stores_apart(s3_bucket: str, s3_endpoint: str, aws_env: None) -> None:
    one = S3BlobStore(s3_bucket, "one/", endpoint_url=s3_endpoint)
    two = S3BlobStore(s3_bucket, "two/", endpoint_url=s3_endpoint)
    info = one.put([b"only in one"], max_bytes=100)
    assert not two.exists(info.cid)
    assert list(two.list()) == []


def test_health_names_the_bucket(s3_store: S3BlobStore) -> None:
    assert s3_store.health() == {"kind": "s3", "bucket": s3_store.bucket, "prefix": "blobs/"}


def test_missing_bucket_is_unavailable(s3_endpoint: str, aws_env: None) -> None:
    store = S3BlobStore("no-such-bucket", endpoint_url=s3_endpoint)
    with pytest.raises(Unavailable):
        store.health()
    with pytest.raises(Unavailable):
        store.put([b"x"], max_bytes=10)


def test_unreachable_endpoint_is_unavailable(aws_env: None) -> None:
    # Prepare: nothing listens on port 9 of loopback; no retries, so the test is quick
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "s3",
        endpoint_url="http://127.0.0.1:9",
        region_name="us-east-1",
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=1),
    )
    store = S3BlobStore("bucket", client=client)

    # Execute / Assert
    for call in (store.health, lambda: store.stat(cid_of_bytes(b"x")), lambda: list(store.list())):
        with pytest.raises(Unavailable):
            call()
