"""The SDK's task calls: tasks, blob uploads and signed submissions."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any, BinaryIO, cast

from datacoop.cid import parse_cid
from datacoop.client._transport import Transport, _file_chunks, _stream_chunks
from datacoop.identity.addresses import normalize_jurisdiction
from datacoop.identity.eip712 import SubmissionMessage, sign_typed
from datacoop.tasks.schemas import (
    BlobPublic,
    SubmissionCreate,
    SubmissionPublic,
    SubmissionRow,
    TaskCreate,
    TaskPublic,
)

__all__ = ["TaskCalls"]


class TaskCalls(Transport):
    """Tasks, uploads and submissions (a part of :class:`~datacoop.client.DataCoopClient`)."""

    # --- tasks ------------------------------------------------------------------------------

    def create_task(self, task: TaskCreate) -> TaskPublic:
        data = self._request("POST", "/tasks", json=task.model_dump(mode="json")).json()
        return TaskPublic.model_validate(data)

    def list_tasks(self, status: str | None = None) -> list[TaskPublic]:
        """Every task (every page), newest first."""
        params = {"status": status} if status else {}
        return [TaskPublic.model_validate(t) for t in self._pages("/tasks", params)]

    def get_task(self, task_id: int) -> TaskPublic:
        return self._get(f"/tasks/{task_id}", TaskPublic)

    # --- blobs and submissions --------------------------------------------------------------

    def upload(
        self,
        source: str | Path | bytes | BinaryIO | Iterable[bytes],
        *,
        progress: Callable[[int], None] | None = None,
    ) -> BlobPublic:
        """Stream a file, bytes, a binary stream or an iterable of chunks to the node; returns its CID.

        ``progress`` is called with the number of bytes sent so far.
        """
        if isinstance(source, bytes):
            body: Any = source
        elif isinstance(source, str | Path):
            body = _file_chunks(Path(source), progress)
        elif hasattr(source, "read"):
            body = _stream_chunks(cast(BinaryIO, source), progress)
        else:
            body = source  # chunks as given: sent with chunked transfer encoding
        headers = {"Content-Type": "application/octet-stream"}
        if isinstance(source, str | Path):
            headers["Content-Length"] = str(Path(source).stat().st_size)
        return BlobPublic.model_validate(
            self._request("POST", "/blobs", content=body, headers=headers).json()
        )

    def submit(
        self,
        task_id: int,
        cid: str,
        jurisdiction: str,
        *,
        consent_hash: str | None = None,
        nonce: int | None = None,
        valid_for: timedelta = timedelta(hours=1),
        device_fingerprint: str | None = None,
    ) -> SubmissionPublic:
        """Sign an EIP-712 ``Submission`` for an uploaded blob and commit it to a task.

        The consent hash defaults to the task's own: signing it states the contributor
        agreed to the consent text the task shows. ``device_fingerprint`` is sent as
        ``X-Device-Fingerprint`` (the node keeps only its hash).
        """
        account = self._need_account()
        if consent_hash is None:
            consent_hash = self.get_task(task_id).consent_hash
        cid = parse_cid(cid)  # the node takes, and so the wallet signs, the canonical spellings
        message = SubmissionMessage(
            contributor=account.address,
            task_id=task_id,
            cid=cid,
            consent_hash=consent_hash,
            jurisdiction=normalize_jurisdiction(jurisdiction),
            nonce=nonce if nonce is not None else secrets.randbits(64),
            deadline=int(time.time() + valid_for.total_seconds()),
        )
        signature = sign_typed(account.key, message.to_typed_data(self.eip712_domain()))
        body = SubmissionCreate(
            cid=cid,
            consent_hash=consent_hash,
            jurisdiction=message.jurisdiction,
            nonce=message.nonce,
            deadline=message.deadline,
            signature=signature,
        )
        headers = {"X-Device-Fingerprint": device_fingerprint} if device_fingerprint else {}
        data = self._request(
            "POST", f"/tasks/{task_id}/submissions", json=body.model_dump(mode="json"), headers=headers
        ).json()
        return SubmissionPublic.model_validate(data)

    def get_submission(self, submission_id: int) -> SubmissionPublic:
        return self._get(f"/submissions/{submission_id}", SubmissionPublic)

    def my_submissions(self, task_id: int | None = None) -> list[SubmissionPublic]:
        """All of the caller's submissions (every page), oldest first."""
        params = {"task_id": task_id} if task_id is not None else {}
        return [SubmissionPublic.model_validate(s) for s in self._pages("/submissions", params)]

    def task_submissions(self, task_id: int, state: str | None = None) -> list[SubmissionRow]:
        """Every submission of a task the caller requested (every page), oldest first."""
        params = {"state": state} if state is not None else {}
        return [SubmissionRow.model_validate(s) for s in self._pages(f"/tasks/{task_id}/submissions", params)]
