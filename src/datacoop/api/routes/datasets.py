"""Datasets, their immutable versions and manifests, and contributors' withdrawals."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Response, status
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from datacoop.api.deps import CurrentCaller, DatasetsDep, NodeDep
from datacoop.api.openapi import binary
from datacoop.api.params import PAGED, After, Id, Index, Page, page_of
from datacoop.api.streaming import download_headers
from datacoop.datasets.exporting import DOWNLOADS
from datacoop.datasets.schemas import (
    DatasetCreate,
    DatasetPublic,
    ProofPublic,
    VersionCreate,
    VersionPublic,
    WithdrawalCreate,
    WithdrawalPublic,
)

router = APIRouter(tags=["datasets"])

FormatName = Annotated[str, PathParam(pattern=f"^({'|'.join(DOWNLOADS)})$", description=", ".join(DOWNLOADS))]
"""A format ``export_version`` writes as one file."""


@router.get("/datasets", response_model=list[DatasetPublic], responses=PAGED)
def list_datasets(
    datasets: DatasetsDep, response: Response, after: After = None, limit: Page = 100
) -> list[DatasetPublic]:
    """Datasets, oldest first, a page at a time (X-Next-Cursor names the next)."""
    return page_of(response, datasets.list_all(after=after, limit=limit + 1), limit)


@router.post("/datasets", response_model=DatasetPublic, status_code=status.HTTP_201_CREATED)
def create_dataset(datasets: DatasetsDep, who: CurrentCaller, body: DatasetCreate) -> DatasetPublic:
    return datasets.create(who, body.name, body.query.to_json())


@router.get("/datasets/{dataset_id}", response_model=DatasetPublic)
def get_dataset(datasets: DatasetsDep, dataset_id: Id) -> DatasetPublic:
    return datasets.get(dataset_id)


@router.post(
    "/datasets/{dataset_id}/versions", response_model=VersionPublic, status_code=status.HTTP_201_CREATED
)
def create_version(
    node: NodeDep, who: CurrentCaller, dataset_id: Id, body: VersionCreate | None = None
) -> VersionPublic:
    query = body.query.to_json() if body and body.query else None
    version = node.datasets.create_version(dataset_id, who, query)
    node.wake_chain()  # the chain follower anchors it; this request only reads
    return version


@router.get("/datasets/{dataset_id}/versions/{number}", response_model=VersionPublic)
def get_version(datasets: DatasetsDep, dataset_id: Id, number: Id) -> VersionPublic:
    return datasets.version(dataset_id, number)


@router.get("/datasets/{dataset_id}/versions/{number}/manifest")
def get_manifest(datasets: DatasetsDep, dataset_id: Id, number: Id) -> Response:
    version = datasets.version(dataset_id, number)
    return _manifest(datasets.manifest_bytes(version.id), version.manifest_cid)


@router.get("/dataset-versions/{version_id}", response_model=VersionPublic)
def get_version_by_id(datasets: DatasetsDep, version_id: Id) -> VersionPublic:
    return datasets.version_by_id(version_id)


@router.get("/dataset-versions/{version_id}/manifest")
def get_manifest_by_id(datasets: DatasetsDep, version_id: Id) -> Response:
    version = datasets.version_by_id(version_id)
    return _manifest(datasets.manifest_bytes(version_id), version.manifest_cid)


@router.get(
    "/dataset-versions/{version_id}/export/{format_name}",
    response_class=FileResponse,
    responses={200: binary(*(media for _, media in DOWNLOADS.values()), description="the file")},
)
def export_version(datasets: DatasetsDep, version_id: Id, format_name: FormatName) -> FileResponse:
    """One file describing the version: ``datasheet`` (Markdown), ``croissant`` (JSON-LD) or
    ``parquet`` (one row per item, metadata only)."""
    folder = Path(tempfile.mkdtemp(prefix="datacoop-export-"))
    try:
        path, media, name = datasets.export_file(version_id, format_name, folder / "out")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return FileResponse(
        path,
        media_type=media,
        headers=download_headers(name),
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
    )


@router.get("/dataset-versions/{version_id}/proof/{index}", response_model=ProofPublic)
def get_proof(datasets: DatasetsDep, version_id: Id, index: Index) -> dict[str, object]:
    """An inclusion proof of the version's item ``index``, checkable on its own."""
    return datasets.proof(version_id, index)


@router.post("/submissions/{submission_id}/withdraw", response_model=WithdrawalPublic)
def withdraw(
    datasets: DatasetsDep, who: CurrentCaller, submission_id: Id, body: WithdrawalCreate | None = None
) -> WithdrawalPublic:
    return datasets.withdraw(who, submission_id, body.reason if body else "")


def _manifest(data: bytes, cid: str) -> Response:
    # The exact stored bytes: re-serialising would change the CID they are verified against.
    headers = {"ETag": f'"{cid}"', "X-Manifest-CID": cid, **download_headers(f"{cid}.json")}
    return Response(data, media_type="application/json", headers=headers)
