"""Compute-to-data: submit an algorithm, follow the job, download released outputs by signed URL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

from fastapi import APIRouter, status
from fastapi.responses import StreamingResponse

from datacoop.api.deps import ComputeDep, CurrentCaller, NodeDep
from datacoop.api.openapi import binary
from datacoop.api.params import Id, UnixSeconds
from datacoop.compute.schemas import JobCreate, JobPublic, OutputLink, PolicyBody, PolicyPublic

router = APIRouter(prefix="/compute", tags=["compute"])


@router.post("/jobs", response_model=JobPublic, status_code=status.HTTP_201_CREATED)
def submit_job(node: NodeDep, who: CurrentCaller, body: JobCreate) -> JobPublic:
    job = node.compute.submit(
        who, body.version_id, body.source, body.filename, entry=body.entry, requirements=body.requirements
    )
    if node.compute_workers is not None:
        node.compute_workers.notify()
    return job


@router.put("/policies/{version_id}", response_model=PolicyPublic)
def set_policy(compute: ComputeDep, who: CurrentCaller, version_id: Id, body: PolicyBody) -> PolicyPublic:
    """The publisher sets how outputs leave: ``approved`` algorithm hashes only, or ``open`` (aggregates)."""
    return compute.set_policy(who, version_id, body)


@router.get("/policies/{version_id}", response_model=PolicyPublic)
def get_policy(compute: ComputeDep, who: CurrentCaller, version_id: Id) -> PolicyPublic:
    """A version's release policy (a version nobody set is open: declared metrics only)."""
    return compute.policy(version_id)


@router.get("/jobs/{job_id}", response_model=JobPublic)
def get_job(compute: ComputeDep, who: CurrentCaller, job_id: Id) -> JobPublic:
    """Status; once done: outcome, the reason it was stopped or withheld, the scrubbed log, outputs."""
    return compute.get(job_id, who)


@router.post("/jobs/{job_id}/outputs/{name:path}/link", response_model=OutputLink)
def output_link(compute: ComputeDep, who: CurrentCaller, job_id: Id, name: str) -> OutputLink:
    return compute.output_link(job_id, who, name)


def _chunks(f: BinaryIO) -> Iterator[bytes]:
    with f:
        while chunk := f.read(1 << 20):
            yield chunk


@router.get(
    "/outputs/{job_id}/{name:path}",
    response_class=StreamingResponse,
    responses={200: binary("application/octet-stream", description="the released output")},
)
def download_output(
    compute: ComputeDep, who: CurrentCaller, job_id: Id, name: str, buyer: str, expires: UnixSeconds, sig: str
) -> StreamingResponse:
    """A link works for a few minutes, and only in the session of the buyer it names."""
    f, size = compute.open_output(who, job_id, name, buyer, expires, sig)
    filename = re.sub(r"[^A-Za-z0-9._-]", "_", name.rsplit("/", 1)[-1])  # no quote or CR/LF in the header
    headers = {
        "Content-Length": str(size),
        "Content-Disposition": f'attachment; filename="{filename}"',
        "X-Content-Type-Options": "nosniff",
    }
    return StreamingResponse(_chunks(f), media_type="application/octet-stream", headers=headers)
