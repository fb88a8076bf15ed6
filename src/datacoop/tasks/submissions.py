"""Submissions: a contributor's signed claim that a blob answers a task.

``commit`` checks, in order of cost: the task is open and the blob is known,
the consent and jurisdiction fit the task, the EIP-712 signature recovers the
signed-in caller; then the nonce is consumed by the database's unique
constraint in the same transaction that writes the row, so a replay loses
even when it races. The contributor's quota for the task is counted in that
transaction too, after a write to the contributor's row that holds the
contributor's other submissions back until it ends, so racing submissions
cannot pass the cap.

A client may send a device fingerprint; only its SHA-256 is stored, for the
fraud signals (:mod:`datacoop.screening.sybil`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError as SAIntegrityError
from sqlalchemy.orm import Session

from datacoop.cid import parse_cid
from datacoop.clock import Clock, utc_now
from datacoop.db import Database
from datacoop.db.models import Blob, Participant, Submission, SubmissionEvent, Task
from datacoop.errors import Forbidden, Gone, InvalidInput, NotFound, QuotaExceeded, ReplayedNonce
from datacoop.identity.addresses import did_pkh, normalize_jurisdiction
from datacoop.identity.eip712 import (
    Eip712Domain,
    SubmissionMessage,
    digest_typed,
    require_canonical,
    verify_submission,
)
from datacoop.identity.schemas import Caller
from datacoop.tasks import listing
from datacoop.tasks.disclosure import shared_cid, shared_report
from datacoop.tasks.rules import TaskStatus
from datacoop.tasks.schemas import StateChange, SubmissionCreate, SubmissionPublic, SubmissionRow
from datacoop.tasks.service import load_task
from datacoop.tasks.states import SubmissionState
from datacoop.tasks.transitions import move

__all__ = ["SubmissionService", "device_hash", "submission_public"]


def device_hash(fingerprint: str | None) -> str | None:
    """What is stored of a client's device fingerprint: its SHA-256 in hex, never the value."""
    if not fingerprint:
        return None
    return hashlib.sha256(b"datacoop-device:" + fingerprint.encode()).hexdigest()


def submission_public(row: Submission, chain_id: int) -> SubmissionPublic:
    return SubmissionPublic(
        id=row.id,
        task_id=row.task_id,
        contributor=row.contributor.address,
        contributor_did=did_pkh(chain_id, row.contributor.address),
        cid=row.cid,
        consent_hash=row.consent_hash,
        jurisdiction=row.jurisdiction,
        nonce=str(row.nonce),
        deadline=row.deadline,
        signature=row.signature,
        digest=row.digest,
        state=SubmissionState(row.state),
        created_at=row.created_at,
        updated_at=row.updated_at,
        history=[
            StateChange(
                from_state=SubmissionState(e.from_state) if e.from_state else None,
                to_state=SubmissionState(e.to_state),
                reason=e.reason,
                at=e.at,
            )
            for e in row.events
        ],
    )


class SubmissionService:
    def __init__(
        self,
        db: Database,
        domain: Eip712Domain,
        *,
        enqueue: Callable[[Session, int, datetime], None],
        clock: Clock = utc_now,
        on_committed: Callable[[int], None] | None = None,
        screening_report: Callable[[int], dict[str, Any]] | None = None,
        max_per_contributor: int = 1000,
    ) -> None:
        """``enqueue(s, submission_id, now)`` queues a new submission's pre-screening job in the
        caller's transaction (screening owns its job row; tasks only knows something is queued).
        ``max_per_contributor`` caps one contributor's submissions to a task whose rules set no cap."""
        self._db, self.domain, self._clock = db, domain, clock
        self.max_per_contributor = max_per_contributor
        self._enqueue = enqueue
        self.on_committed = on_committed  # e.g. wake the in-process workers
        self._screening_report = screening_report

    def commit(
        self, contributor: Caller, task_id: int, body: SubmissionCreate, *, device: str | None = None
    ) -> SubmissionPublic:
        """Record a signed submission in state ``received`` (``device``: the client's fingerprint if sent)."""
        now = self._clock()
        with self._db.transaction() as s:
            task = load_task(s, task_id)
            message = self._verified(contributor, task_id, body, now)
            self._check_task(task, message, now)
            if s.get(Blob, message.cid) is None:
                raise NotFound(
                    f"no blob {message.cid} was uploaded here; upload it first (POST /v1/blobs)", field="cid"
                )
            self._hold_contributor(s, contributor.id)  # until commit: racing submissions queue here
            self._check_quota(s, task, contributor)
            digest = "0x" + digest_typed(message.to_typed_data(self.domain)).hex()
            row = Submission(
                task_id=task_id,
                contributor_id=contributor.id,
                cid=message.cid,
                consent_hash=message.consent_hash,
                jurisdiction=message.jurisdiction,
                nonce=body.nonce,
                deadline=body.deadline,
                signature=body.signature,
                digest=digest,
                state=SubmissionState.RECEIVED.value,
                created_at=now,
                updated_at=now,
                device_hash=device_hash(device),
            )
            self._insert_once(s, row)
            s.add(
                SubmissionEvent(submission=row, from_state=None, to_state=row.state, reason="signed", at=now)
            )
            s.flush()
            self._enqueue(s, row.id, now)  # same transaction: no submission without its job
            s.refresh(row)
            public = submission_public(row, self.domain.chain_id)
        if self.on_committed is not None:
            self.on_committed(public.id)
        return public

    def _verified(
        self, contributor: Caller, task_id: int, body: SubmissionCreate, now: datetime
    ) -> SubmissionMessage:
        """The message exactly as sent and signed, its signature checked, then held to canonical forms.

        The signature is recovered over the values as sent (a wallet signs strings as they are), so a
        value in another spelling gets a 422 naming its canonical form, never "signed by someone else".
        """
        cid = parse_cid(body.cid, field="cid")  # not a CID at all: 400 before any cryptography
        jurisdiction = normalize_jurisdiction(body.jurisdiction, field="jurisdiction")
        message = SubmissionMessage(
            contributor=contributor.address, task_id=task_id, cid=body.cid, consent_hash=body.consent_hash,
            jurisdiction=body.jurisdiction, nonce=body.nonce, deadline=body.deadline,
        )  # fmt: skip
        sender, at = contributor.address, int(now.timestamp())
        verify_submission(self.domain, message, body.signature, expected_signer=sender, now=at)
        require_canonical("cid", body.cid, cid)
        require_canonical("jurisdiction", body.jurisdiction, jurisdiction)
        return message

    @staticmethod
    def _hold_contributor(s: Session, contributor_id: int) -> None:
        # A write first: PostgreSQL locks the row, SQLite takes its write lock before anything is
        # counted (a SELECT ... FOR UPDATE would lock nothing on SQLite).
        s.execute(
            update(Participant)
            .where(Participant.id == contributor_id)
            .values(last_seen_at=Participant.last_seen_at)
        )

    def _check_quota(self, s: Session, task: Task, contributor: Caller) -> None:
        cap = int(task.rules.get("max_submissions_per_contributor") or self.max_per_contributor)
        made = s.scalar(
            select(func.count())
            .select_from(Submission)
            .where(Submission.task_id == task.id, Submission.contributor_id == contributor.id)
        )
        if int(made or 0) >= cap:
            raise QuotaExceeded(
                "max_submissions_per_contributor",
                cap,
                f"submissions by {contributor.address} to task {task.id}",
            )

    @staticmethod
    def _check_task(task: Task, message: SubmissionMessage, now: datetime) -> None:
        if task.status != TaskStatus.OPEN.value:
            raise Gone(f"task {task.id} is closed to submissions", field="task_id")
        if task.deadline <= now:
            raise Gone(f"task {task.id} passed its deadline {task.deadline.isoformat()}", field="task_id")
        if message.consent_hash != task.consent_hash.lower():
            raise InvalidInput(
                f"consent_hash does not match task {task.id}'s consent text (expected {task.consent_hash})",
                field="consent_hash",
            )
        if task.allowed_jurisdictions and message.jurisdiction not in task.allowed_jurisdictions:
            raise Forbidden(
                f"task {task.id} accepts contributions from {', '.join(task.allowed_jurisdictions)} only",
                field="jurisdiction",
                limit=task.allowed_jurisdictions,
            )
        if message.deadline < now.timestamp():
            raise Gone(
                "the signature's deadline has passed; sign again",
                field="deadline",
                limit=int(now.timestamp()),
            )

    @staticmethod
    def _insert_once(s: Session, row: Submission) -> None:
        try:
            with s.begin_nested():
                s.add(row)
        except SAIntegrityError as exc:
            raise ReplayedNonce(
                f"nonce {row.nonce} was already used by this contributor; sign again with a fresh nonce",
                field="nonce",
            ) from exc

    def get(self, submission_id: int, viewer: Caller, *, operator: bool = False) -> SubmissionPublic:
        """A submission as ``viewer`` may see it (see :mod:`datacoop.tasks.disclosure`).

        Its contributor (and the operator) see everything; the task's requester sees the shared
        copy's CID and a pre-screen report without the metadata the scrub removed; anyone else
        gets the same 404 as for an id that does not exist, so ids do not reveal what exists.
        """
        with self._db.transaction() as s:
            row = s.get(Submission, submission_id)
            full = row is not None and (operator or row.contributor_id == viewer.id)
            if row is None or not (full or row.task.requester_id == viewer.id):
                raise NotFound(f"there is no submission {submission_id}", field="submission_id")
            public = submission_public(row, self.domain.chain_id)
            if not full:
                public = public.model_copy(update={"cid": shared_cid(s, submission_id)})
        if self._screening_report is None:
            return public
        report = self._screening_report(submission_id)
        prescreen = report if full else shared_report(report)
        return public.model_copy(update={"details": {"prescreen": prescreen}})

    def list_mine(
        self,
        contributor: Caller,
        *,
        task_id: int | None = None,
        after: int | None = None,
        limit: int | None = None,
    ) -> list[SubmissionPublic]:
        """The caller's submissions after id ``after`` (a keyset page), oldest first, at most ``limit``."""
        with self._db.transaction() as s:
            query = (
                select(Submission).where(Submission.contributor_id == contributor.id).order_by(Submission.id)
            )
            if task_id is not None:
                query = query.where(Submission.task_id == task_id)
            if after is not None:
                query = query.where(Submission.id > after)
            if limit is not None:
                query = query.limit(limit)
            return [submission_public(r, self.domain.chain_id) for r in s.scalars(query)]

    def task_rows(
        self, viewer: Caller, task_id: int, *, operator: bool, state: SubmissionState | None = None,
        after: int | None = None, limit: int = 100,
    ) -> list[SubmissionRow]:  # fmt: skip
        """A page of the task's submissions for its requester (or the operator); see :mod:`.listing`."""
        return listing.task_rows(
            self._db, viewer, task_id, operator=operator, state=state, after=after, limit=limit
        )

    def stream_task_rows(
        self, viewer: Caller, task_id: int, *, operator: bool, state: SubmissionState | None = None
    ) -> Iterator[SubmissionRow]:
        """Every submission of the task, for its requester (or the operator), read in batches."""
        return listing.stream_task_rows(self._db, viewer, task_id, operator=operator, state=state)

    def transition(
        self, submission_id: int, to: SubmissionState, *, reason: str | None = None
    ) -> SubmissionPublic:
        """Move a submission along its state machine (used by pre-screening and review)."""
        now = self._clock()
        with self._db.transaction() as s:
            row = s.get(Submission, submission_id, with_for_update={"of": Submission})
            if row is None:
                raise NotFound(f"there is no submission {submission_id}", field="submission_id")
            move(s, row, to, reason, now)
            s.flush()
            s.refresh(row)
            return submission_public(row, self.domain.chain_id)
