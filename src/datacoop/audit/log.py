"""The audit log: append-only and hash-chained, so that any change to a past row shows.

Each entry's ``hash`` is the SHA-256 of the canonical JSON (sorted keys, no
spaces, UTF-8) of its ``seq``, ``at``, ``actor``, ``action``, ``subject``,
``details`` and ``prev_hash`` — the previous entry's hash, or :data:`GENESIS`
for entry 1. :meth:`AuditLog.append` writes inside the caller's transaction and
first updates the one ``audit_head`` row: PostgreSQL then holds that row's lock
and SQLite its write lock until the transaction ends, so concurrent appends
queue up and form one chain. :meth:`AuditLog.verify` recomputes the chain and
names the first entry that does not fit; :meth:`AuditLog.anchor` records a head
to put on chain and :meth:`AuditLog.sync` sends it through the transactional
outbox to ``DatasetRegistry.anchorAudit`` (owner only, sequence numbers only
move forward), so a rewrite of the whole log, head row and anchors table
included, still differs from what the chain holds.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session

from datacoop.chain.contracts import DatasetRegistry
from datacoop.chain.setup import ChainHandle
from datacoop.clock import Clock, utc_now
from datacoop.db import Database
from datacoop.db.models import AuditAnchor, AuditEntry, AuditHead, ChainTx
from datacoop.errors import Conflict, IntegrityError, InvalidInput, TooLarge

__all__ = [
    "GENESIS",
    "MAX_DETAILS_BYTES",
    "Anchor",
    "AuditLog",
    "AuditProblem",
    "AuditRecord",
    "VerifyReport",
]

GENESIS = "0x" + "00" * 32
MAX_DETAILS_BYTES = 64 * 1024
ANCHOR_PENDING_NOTE = "not sent yet: a node with a chain sends it (datacoop up)"
_LIMITS = {"actor": 200, "action": 100, "subject": 200}
_HEAD, _LOG = cast(Table, AuditHead.__table__), cast(Table, AuditEntry.__table__)
# Built once: statement construction, not the database, was most of an append's time.
_LOCK_HEAD = (
    update(_HEAD).where(_HEAD.c.id == 1).values(seq=_HEAD.c.seq).returning(_HEAD.c.seq, _HEAD.c.hash)
)  # updating the head row takes its lock (SQLite: the write lock) until commit: one chain
_INSERT_ENTRY = insert(_LOG)
_MOVE_HEAD = update(_HEAD).where(_HEAD.c.id == 1)


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    at: datetime
    actor: str
    action: str
    subject: str
    details: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class Anchor:
    seq: int
    head_hash: str
    created_at: datetime
    status: str  # pending | sent | confirmed | failed
    tx_hash: str | None
    note: str | None


@dataclass(frozen=True)
class AuditProblem:
    """The first place the log does not add up: the entry's seq, what is wrong, in words."""

    seq: int
    kind: str  # altered | broken_link | missing | head_mismatch | anchor_mismatch
    message: str


@dataclass(frozen=True)
class VerifyReport:
    entries: int
    head_seq: int
    head_hash: str
    anchors_checked: int
    problem: AuditProblem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, no NaN: one text for one value, on every database."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def entry_hash(
    seq: int, at: datetime, actor: str, action: str, subject: str, details: dict[str, Any], prev_hash: str
) -> str:
    """The 0x-hex SHA-256 that chains one entry to the one before."""
    row = {
        "seq": seq,
        "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": actor,
        "action": action,
        "subject": subject,
        "details": details,
        "prev_hash": prev_hash,
    }
    return "0x" + hashlib.sha256(canonical_json(row).encode("utf-8")).hexdigest()


class AuditLog:
    """Write, read and check the audit log of one database."""

    def __init__(self, db: Database, *, clock: Clock = utc_now, chain: ChainHandle | None = None) -> None:
        self._db, self._clock = db, clock
        self._chain = chain

    def append(
        self, s: Session, *, actor: str, action: str, subject: str, details: dict[str, Any] | None = None
    ) -> AuditRecord:
        """Add an entry in the caller's transaction ``s``; it commits or rolls back with the caller's work."""
        fields = {"actor": actor, "action": action, "subject": subject}
        for name, value in fields.items():
            if not value or len(value) > _LIMITS[name]:
                raise InvalidInput(
                    f"{name} must be 1 to {_LIMITS[name]} characters", field=name, limit=_LIMITS[name]
                )
        clean = _clean_details(details or {})
        head = s.execute(_LOCK_HEAD).one_or_none()
        if head is None:
            raise IntegrityError(
                "the audit log has no head row: run the database migrations", field="audit_head"
            )
        seq, at = head.seq + 1, self._clock().astimezone(UTC)
        record = AuditRecord(seq, at, actor, action, subject, clean, head.hash, "")
        digest = entry_hash(seq, at, actor, action, subject, clean, head.hash)
        s.execute(_INSERT_ENTRY, {**asdict(record), "hash": digest})
        s.execute(_MOVE_HEAD, {"seq": seq, "hash": digest})
        return replace(record, hash=digest)

    def record(
        self, *, actor: str, action: str, subject: str, details: dict[str, Any] | None = None
    ) -> AuditRecord:
        """Append in a transaction of its own."""
        with self._db.transaction() as s:
            return self.append(s, actor=actor, action=action, subject=subject, details=details)

    def entries(
        self, *, after: int = 0, limit: int = 100, subject: str | None = None, action: str | None = None
    ) -> list[AuditRecord]:
        """Entries with seq > ``after``, oldest first, optionally only one subject's or action's."""
        if not 1 <= limit <= 10_000:
            raise InvalidInput("limit must be 1 to 10000", field="limit", limit=10_000)
        query = select(AuditEntry).where(AuditEntry.seq > after).order_by(AuditEntry.seq).limit(limit)
        if subject is not None:
            query = query.where(AuditEntry.subject == subject)
        if action is not None:
            query = query.where(AuditEntry.action == action)
        with self._db.transaction() as s:
            return [_record(r) for r in s.scalars(query)]

    def anchor(self, *, min_new_entries: int = 1) -> Anchor | None:
        """Record the current head as an anchor (pending), when ``min_new_entries`` came since the last.

        Returns the new anchor, or None when too few entries came since the last one.
        """
        if min_new_entries < 1:
            raise InvalidInput("min_new_entries must be 1 or more", field="min_new_entries", limit=1)
        with self._db.transaction() as s:
            head = s.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one()
            if head.seq == 0:
                raise Conflict("the audit log is empty: there is no head to anchor", field="audit_log")
            last = s.scalar(select(AuditAnchor.seq).order_by(AuditAnchor.seq.desc()).limit(1)) or 0
            if head.seq - last < min_new_entries:
                return None
            row = AuditAnchor(
                seq=head.seq, head_hash=head.hash, created_at=self._clock(), status="pending",
                tx_hash=None, note=ANCHOR_PENDING_NOTE,
            )  # fmt: skip
            s.add(row)
        return _anchor(row)

    def _registry(self) -> DatasetRegistry | None:
        if self._chain is None:
            return None
        return DatasetRegistry(self._chain.client, self._chain.deployment.registry)

    def _anchor_key(self, seq: int) -> str:
        assert self._chain is not None
        return f"audit:{self._chain.client.chain_id}:{self._chain.deployment.registry}:{seq}"

    def sync(self) -> list[Anchor]:
        """Send recorded anchors through the outbox and follow them; the anchors whose status changed.

        Without a chain, nothing moves (anchors stay pending, said so in their note).
        """
        registry = self._registry()
        if registry is None or self._chain is None:
            return []
        changed: list[Anchor] = []
        with self._db.transaction() as s:
            last_sent = 0
            for row in s.scalars(select(AuditAnchor).order_by(AuditAnchor.seq, AuditAnchor.id)):
                if row.status in ("confirmed", "failed"):
                    last_sent = max(last_sent, row.seq) if row.status == "confirmed" else last_sent
                    continue
                if row.seq <= last_sent:  # an older head recorded twice: the chain only moves forward
                    row.status, row.note = "failed", f"entry {last_sent} is already anchored"
                    changed.append(_anchor(row))
                    continue
                req = registry.anchor_audit(row.seq, row.head_hash)
                key = self._anchor_key(row.seq)
                self._chain.enqueue(s, key=key, to=req.to, data=req.data, now=self._clock())
                last_sent = row.seq
                if row.status == "pending" and row.note:
                    row.note = None
        with self._db.transaction() as s:
            for row in s.scalars(select(AuditAnchor).where(AuditAnchor.status.in_(("pending", "sent")))):
                tx = s.scalar(select(ChainTx).where(ChainTx.key == self._anchor_key(row.seq)))
                if tx is None:
                    continue
                status = {"confirmed": "confirmed", "failed": "failed", "reverted": "failed"}.get(
                    tx.status, "sent" if tx.status in ("sent", "mined") else "pending"
                )
                if (status, tx.tx_hash) != (row.status, row.tx_hash):
                    row.status, row.tx_hash = status, tx.tx_hash
                    if status == "failed":
                        row.note = tx.error or "the anchoring transaction reverted"
                    changed.append(_anchor(row))
        return changed

    def chain_anchors(self) -> dict[int, str]:
        """The anchors the chain holds (``{seq: hash}``); empty without a chain."""
        registry = self._registry()
        return registry.audit_anchors() if registry is not None else {}

    def anchors(self) -> list[Anchor]:
        with self._db.transaction() as s:
            return [_anchor(a) for a in s.scalars(select(AuditAnchor).order_by(AuditAnchor.id))]

    def verify(self, *, on_chain: dict[int, str] | None = None) -> VerifyReport:
        """Recompute the whole chain, then compare it with the head row and every anchor.

        ``on_chain`` adds the anchors read from the chain (:meth:`chain_anchors`): those catch a log
        rewritten consistently, anchors table included.

        Read in this order — anchors, head, entries — so that appends running meanwhile (which only add
        entries after the head that was read) are never mistaken for tampering.
        """
        with self._db.transaction() as s:
            anchored: dict[int, set[str]] = {}
            for a in s.scalars(select(AuditAnchor)):
                anchored.setdefault(a.seq, set()).add(a.head_hash)
            for seq, head_hash in (on_chain or {}).items():  # read from the chain, not from this database
                anchored.setdefault(seq, set()).add(head_hash)
            head = s.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one_or_none()
            check = _ChainCheck(anchored, None if head is None else (head.seq, head.hash))
            rows = s.scalars(select(AuditEntry).order_by(AuditEntry.seq).execution_options(yield_per=1000))
            try:
                problem = next((p for p in map(check.feed, rows) if p is not None), None)
            finally:
                rows.close()  # PostgreSQL streams through a server-side cursor: close it when stopping early
        problem = problem or check.finish()
        return VerifyReport(check.seq, check.seq, check.prev, check.anchors_checked, problem)


class _ChainCheck:
    """Walks the entries in seq order, stopping at the first that does not fit."""

    def __init__(self, anchored: dict[int, set[str]], head: tuple[int, str] | None) -> None:
        self.anchored, self.head = anchored, head
        self.seq, self.prev, self.anchors_checked = 0, GENESIS, 0

    def feed(self, row: AuditEntry) -> AuditProblem | None:
        expected = self.seq + 1
        if row.seq != expected:
            return AuditProblem(expected, "missing", f"entry {expected} is missing (the next is {row.seq})")
        if row.prev_hash != self.prev:
            return AuditProblem(
                row.seq, "broken_link", f"entry {row.seq} does not name entry {self.seq}'s hash"
            )
        digest = entry_hash(row.seq, row.at, row.actor, row.action, row.subject, row.details, row.prev_hash)
        if digest != row.hash:
            return AuditProblem(row.seq, "altered", f"entry {row.seq} was changed after it was written")
        for anchored in self.anchored.get(row.seq, ()):
            self.anchors_checked += 1
            if anchored != row.hash:
                return AuditProblem(
                    row.seq, "anchor_mismatch", f"entry {row.seq} differs from its anchored hash {anchored}"
                )
        if self.head is not None and self.head[0] == row.seq and self.head[1] != row.hash:
            return AuditProblem(row.seq, "head_mismatch", f"entry {row.seq} differs from the head row's hash")
        self.seq, self.prev = row.seq, row.hash
        return None

    def finish(self) -> AuditProblem | None:
        beyond = [seq for seq in self.anchored if seq > self.seq]
        if beyond:
            first = min(beyond)
            return AuditProblem(first, "missing", f"entry {first} was anchored but is no longer in the log")
        if self.head is None:
            return AuditProblem(self.seq, "head_mismatch", "the audit_head row is missing")
        if self.head[0] > self.seq:
            return AuditProblem(
                self.seq + 1, "head_mismatch",
                f"the log ends at entry {self.seq} but its head row says entry {self.head[0]}",
            )  # fmt: skip
        return None


def _clean_details(details: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(details, dict):
        raise InvalidInput("details must be a JSON object", field="details")
    try:
        text = canonical_json(details)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            f"details must be plain JSON (no NaN, no objects): {exc}", field="details"
        ) from None
    if len(text.encode("utf-8")) > MAX_DETAILS_BYTES:
        raise TooLarge("details", MAX_DETAILS_BYTES)
    clean: dict[str, Any] = json.loads(text)  # what the database gives back is what was hashed
    return clean


def _record(row: AuditEntry) -> AuditRecord:
    return AuditRecord(
        seq=row.seq, at=row.at, actor=row.actor, action=row.action, subject=row.subject,
        details=row.details, prev_hash=row.prev_hash, hash=row.hash,
    )  # fmt: skip


def _anchor(row: AuditAnchor) -> Anchor:
    return Anchor(row.seq, row.head_hash, row.created_at, row.status, row.tx_hash, row.note)
