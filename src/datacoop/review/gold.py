"""Gold items: a requester's items with a known answer, mixed unseen into validators' queues.

A gold item's bytes go to every validator it is served to, so a requester may only use bytes
they uploaded themselves (``Blob.uploader_id``). Any other blob, a contributor's original above
all, is refused with the same 404 as a blob that does not exist: naming a CID never turns it
into a download. To use an item of their own task, a requester uploads its shared copy (the
sample the dashboard serves). Functions over the caller's session; ReviewService owns the
transactions.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError as SAIntegrityError
from sqlalchemy.orm import Session

from datacoop.cid import parse_cid
from datacoop.db.models import Blob, GoldItem
from datacoop.errors import Conflict, Forbidden, NotFound
from datacoop.identity.schemas import Caller
from datacoop.review.schemas import GoldItemCreate, GoldItemPublic
from datacoop.tasks.service import load_task

__all__ = ["add_gold", "list_gold"]


def add_gold(s: Session, who: Caller, task_id: int, body: GoldItemCreate, now: datetime) -> GoldItemPublic:
    """Add an item with a known answer to the caller's task (never screened, paid or exported)."""
    cid = parse_cid(body.cid, field="cid")
    _own_task(s, who, task_id, "add gold items")
    blob = s.get(Blob, cid)
    if blob is None or blob.uploader_id != who.id:  # the same answer either way: nothing leaks
        raise NotFound(
            f"you uploaded no blob {cid}: a gold item must be a blob you uploaded (POST /v1/blobs)",
            field="cid",
        )
    row = GoldItem(
        task_id=task_id, cid=cid, answer=body.answer, report=body.report.model_dump(mode="json"),
        created_at=now,
    )  # fmt: skip
    try:
        with s.begin_nested():
            s.add(row)
    except SAIntegrityError:
        raise Conflict(f"{cid} is already a gold item of task {task_id}", field="cid") from None
    return _public(row)


def list_gold(
    s: Session, who: Caller, task_id: int, *, after: int | None = None, limit: int | None = None
) -> list[GoldItemPublic]:
    """The task's gold items after id ``after`` (a keyset page), oldest first, at most ``limit``."""
    _own_task(s, who, task_id, "see its gold items")
    query = select(GoldItem).where(GoldItem.task_id == task_id).order_by(GoldItem.id).limit(limit)
    if after is not None:
        query = query.where(GoldItem.id > after)
    return [_public(g) for g in s.scalars(query)]


def _own_task(s: Session, who: Caller, task_id: int, action: str) -> None:
    if load_task(s, task_id).requester_id != who.id:
        raise Forbidden(f"only the task's requester can {action}", field="task_id")


def _public(g: GoldItem) -> GoldItemPublic:
    return GoldItemPublic(id=g.id, task_id=g.task_id, cid=g.cid, answer=g.answer, created_at=g.created_at)
