"""Blob uploads: the request body is the blob, streamed to the store."""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from datacoop.api.deps import BlobsDep, CurrentCaller
from datacoop.api.limits import UPLOADS
from datacoop.errors import InvalidInput
from datacoop.tasks.schemas import BlobPublic

router = APIRouter(prefix="/blobs", tags=["blobs"])
STREAMED = 2**63 - 1  # no request-body cap of the app: uploads stream


def _declared_length(request: Request) -> int | None:
    raw = request.headers.get("content-length")
    if raw is None:
        return None  # chunked: the store counts the bytes as they come
    if not raw.isdigit():
        raise InvalidInput("Content-Length must be a non-negative integer", field="content-length")
    return int(raw)


@router.post(
    "",
    response_model=BlobPublic,
    status_code=status.HTTP_201_CREATED,
    dependencies=[UPLOADS],
    max_body_size=STREAMED,  # the store counts the bytes and stops at max_blob_bytes
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary", "minLength": 1}}
            },
        }
    },
)
async def upload_blob(request: Request, blobs: BlobsDep, who: CurrentCaller) -> BlobPublic:
    """Store the raw request body; answers with its CIDv1 (what `ipfs add --cid-version=1` prints)."""
    return await blobs.upload(request.stream(), who, declared_length=_declared_length(request))


@router.get("/{cid}", response_model=BlobPublic)
def get_blob(blobs: BlobsDep, cid: str) -> BlobPublic:
    """What the node knows about a blob (its bytes are served only through the exchange)."""
    return blobs.get(cid)
