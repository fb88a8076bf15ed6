"""Freezing a query into manifest items: what the database knows of each accepted submission.

Labels and review outcomes come through two small readers, :func:`labels_for` and
:func:`reviews_for`, passed to the service so the review module can supply its own.
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BindParameter, bindparam, inspect, select, text
from sqlalchemy.orm import Session

from datacoop.datasets.manifest import ManifestItem
from datacoop.datasets.query import DatasetQuery
from datacoop.db.models import Prescreen, StageResultRow, Submission, Task, Withdrawal
from datacoop.identity.addresses import did_pkh
from datacoop.merkle._keccak import new_hasher
from datacoop.tasks.states import SubmissionState

__all__ = ["LabelReader", "Selected", "labels_for", "removal_reason", "reviews_for", "select_items"]

LabelReader = Callable[[Session, list[int]], dict[int, dict[str, Any]]]
WITHDRAWN = "withdrawn by the contributor"
NO_LONGER_MATCHES = "no longer matches the dataset's query"

# Sniffed kinds (decode stage) whose media type mimetypes does not spell the IANA way.
_MEDIA_TYPES = {"jpeg": "image/jpeg", "wav": "audio/wav", "mp3": "audio/mpeg", "text": "text/plain"}
# Quality details worth keeping in a manifest, by stage.
_QUALITY_KEYS = {
    "quality": ("sharpness", "brightness", "contrast", "dark_share", "bright_share", "rms_dbfs", "peak_dbfs"),
    "decode": ("width", "height", "duration_s", "sample_rate"),
    "phash": ("phash",),
}


def _has_table(s: Session, name: str) -> bool:
    return bool(inspect(s.connection()).has_table(name))


def labels_for(s: Session, submission_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Each submission's review labels as ``{"tags": [...]}``; {} for every id without any.

    Reads the review module's ``review_votes`` where that table exists: a tag is kept when more
    than half of the accepting votes gave it. Where there is no such table, every item has {}.
    """
    found: dict[int, dict[str, Any]] = {i: {} for i in submission_ids}
    if not submission_ids or not _has_table(s, "review_votes"):
        return found
    rows = s.execute(
        text(
            "SELECT submission_id, labels FROM review_votes"
            " WHERE decision = 'accept' AND submission_id IN :ids"
        ).bindparams(_ids_param()),
        {"ids": submission_ids},
    ).all()
    votes: dict[int, list[list[str]]] = {}
    for sub_id, labels in rows:
        votes.setdefault(sub_id, []).append(_json_list(labels))
    for sub_id, given in votes.items():
        counts: dict[str, int] = {}
        for tags in given:
            for tag in set(tags):
                counts[tag] = counts.get(tag, 0) + 1
        tags = sorted(tag for tag, n in counts.items() if 2 * n > len(given))
        if tags:
            found[sub_id] = {"tags": tags}
    return found


def reviews_for(s: Session, submission_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Each accepted submission's review outcome: votes and posterior, or ``auto`` (accepted by screening)."""
    found: dict[int, dict[str, Any]] = {i: {"outcome": "accepted", "auto": True} for i in submission_ids}
    if not submission_ids or not _has_table(s, "review_outcomes"):
        return found
    rows = s.execute(
        text(
            "SELECT submission_id, votes, posterior FROM review_outcomes WHERE submission_id IN :ids"
        ).bindparams(_ids_param()),
        {"ids": submission_ids},
    ).all()
    for sub_id, votes, posterior in rows:
        review: dict[str, Any] = {"outcome": "accepted", "votes": int(votes)}
        if posterior is not None:
            review["posterior"] = round(float(posterior), 6)
        found[sub_id] = review
    return found


def _ids_param() -> BindParameter[Any]:
    return bindparam("ids", expanding=True)


def _json_list(value: object) -> list[str]:
    parsed = json.loads(value) if isinstance(value, str) else value
    return [str(v) for v in parsed] if isinstance(parsed, list) else []


@dataclass(frozen=True)
class Selected:
    """A submission the query selects, with what the manifest says of it (``index`` set later)."""

    submission_id: int
    fields: dict[str, Any]


def _media_type(kind: str | None) -> str:
    if not kind:
        return "application/octet-stream"
    return _MEDIA_TYPES.get(kind) or mimetypes.types_map.get("." + kind, "application/octet-stream")


def _quality(results: Iterable[StageResultRow]) -> tuple[dict[str, Any], str | None]:
    quality: dict[str, Any] = {}
    kind = None
    for row in results:
        if row.stage == "decode":
            kind = row.details.get("format")
        keys = _QUALITY_KEYS.get(row.stage, ())
        quality.update({k: row.details[k] for k in keys if k in row.details})
        if row.stage == "quality" and row.score is not None:
            quality["score"] = row.score
    return quality, kind


def select_items(
    s: Session,
    query: DatasetQuery,
    *,
    chain_id: int,
    blob_size: Callable[[str], int],
    labels: LabelReader = labels_for,
    reviews: LabelReader = reviews_for,
) -> tuple[list[Selected], set[str]]:
    """Every accepted, not withdrawn submission the query selects, by id; and the licences they carry."""
    rows = s.execute(
        select(Submission, Prescreen.scrubbed_cid, Task.licence, Task.modality)
        .join(Task, Task.id == Submission.task_id)
        .outerjoin(Prescreen, Prescreen.submission_id == Submission.id)
        .where(Submission.task_id.in_(query.task_ids), Submission.state == SubmissionState.ACCEPTED.value)
        .where(~select(Withdrawal.id).where(Withdrawal.submission_id == Submission.id).exists())
        .order_by(Submission.id)
    ).all()
    rows = [r for r in rows if _wanted(query, r[0], r[2])]
    ids = [r[0].id for r in rows]
    label_map, review_map = labels(s, ids), reviews(s, ids)
    results: dict[int, list[StageResultRow]] = {}
    for result in s.scalars(select(StageResultRow).where(StageResultRow.submission_id.in_(ids))):
        results.setdefault(result.submission_id, []).append(result)
    chosen, licences = [], set()
    for sub, scrubbed, licence, modality in rows:
        item_labels = label_map.get(sub.id, {})
        if not query.matches_labels(item_labels):
            continue
        quality, kind = _quality(results.get(sub.id, []))
        served = scrubbed or sub.cid
        fields = {
            "submission_id": sub.id,
            "cid": served,
            "original_cid_hash": "0x" + new_hasher().keccak(sub.cid.encode("utf-8")).hex(),
            "size": blob_size(served),
            "media_type": _media_type("text" if modality == "text" and not kind else kind),
            "labels": item_labels,
            "quality": quality,
            "contributor": did_pkh(chain_id, sub.contributor.address),
            "task_id": sub.task_id,
            "nonce": int(sub.nonce),
            "deadline": int(sub.deadline),
            "consent_hash": sub.consent_hash.lower(),
            "jurisdiction": sub.jurisdiction,
            "licence": licence,
            "signature": sub.signature,
            "review": review_map.get(sub.id, {"outcome": "accepted"}),
        }
        chosen.append(Selected(sub.id, fields))
        licences.add(licence)
    return chosen, licences


def _wanted(query: DatasetQuery, sub: Submission, licence: str) -> bool:
    if query.jurisdictions and sub.jurisdiction not in query.jurisdictions:
        return False
    if query.licence is not None and licence != query.licence:
        return False
    return query.matches_date(sub.created_at)


def to_items(selected: list[Selected]) -> list[ManifestItem]:
    """Manifest items in submission-id order, indexed 0..n-1."""
    return [ManifestItem(index=i, **item.fields) for i, item in enumerate(selected)]


def removal_reason(s: Session, submission_id: int) -> str:
    """Why an item of the previous version is not in the next one."""
    withdrawn = s.scalar(select(Withdrawal.id).where(Withdrawal.submission_id == submission_id))
    return WITHDRAWN if withdrawn is not None else NO_LONGER_MATCHES
