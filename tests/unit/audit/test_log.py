"""The audit log on SQLite and PostgreSQL: one chain, in the caller's transaction, every tampering found."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import delete, select, update
from tests.conftest import ManualClock

from datacoop.audit.log import GENESIS, MAX_DETAILS_BYTES, AuditLog, entry_hash
from datacoop.db import Database
from datacoop.db.models import AuditAnchor, AuditEntry, AuditHead
from datacoop.errors import Conflict, InvalidInput, TooLarge


@pytest.fixture
def log(db: Database, clock: ManualClock) -> AuditLog:
    return AuditLog(db, clock=clock)


def _fill(log: AuditLog, clock: ManualClock, n: int = 5) -> None:
    for i in range(1, n + 1):
        clock.advance(seconds=1)
        log.record(actor="0xabc", action="licence.grant", subject=f"order:{i}", details={"i": i, "why": "é"})


def test_entries_chain_from_genesis(log: AuditLog, clock: ManualClock) -> None:
    # Execute
    _fill(log, clock, 3)
    # Assert
    entries = log.entries()
    assert [e.seq for e in entries] == [1, 2, 3]
    assert entries[0].prev_hash == GENESIS
    assert [e.prev_hash for e in entries[1:]] == [e.hash for e in entries[:-1]]
    e = entries[1]
    assert e.hash == entry_hash(e.seq, e.at, e.actor, e.action, e.subject, e.details, e.prev_hash)
    report = log.verify()
    assert report.ok and (report.entries, report.head_hash) == (3, entries[-1].hash)


def test_entries_filter_and_page(log: AuditLog, clock: ManualClock) -> None:
    _fill(log, clock, 4)
    log.record(actor="op", action="download", subject="order:2")
    assert [e.seq for e in log.entries(after=1, limit=2)] == [2, 3]
    assert [e.seq for e in log.entries(subject="order:2")] == [2, 5]
    assert [e.seq for e in log.entries(action="download")] == [5]
    with pytest.raises(InvalidInput) as caught:
        log.entries(limit=0)
    assert caught.value.field == "limit"


def test_append_rolls_back_with_the_callers_transaction(db: Database, log: AuditLog) -> None:
    # Prepare / Execute: the caller's work fails after appending
    with pytest.raises(RuntimeError), db.transaction() as s:
        log.append(s, actor="a", action="grant", subject="x")
        raise RuntimeError("the caller's work failed")
    # Assert: no entry and no head moved; the next entry is number 1
    assert log.entries() == [] and log.verify().ok
    assert log.record(actor="a", action="grant", subject="y").seq == 1


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"actor": ""}, "actor"),
        ({"action": "x" * 101}, "action"),
        ({"details": {"x": float("nan")}}, "details"),
        ({"details": {"x": object()}}, "details"),
        ({"details": ["not", "an", "object"]}, "details"),
    ],
)
def test_bad_entries_are_refused(log: AuditLog, kwargs: dict[str, Any], field: str) -> None:
    entry = {"actor": "a", "action": "grant", "subject": "x", **kwargs}
    with pytest.raises(InvalidInput) as caught:
        log.record(**entry)
    assert caught.value.field == field
    assert log.entries() == []


def test_details_have_a_size_limit(log: AuditLog) -> None:
    with pytest.raises(TooLarge) as caught:
        log.record(actor="a", action="b", subject="c", details={"x": "y" * MAX_DETAILS_BYTES})
    assert caught.value.limit == MAX_DETAILS_BYTES


def test_details_are_stored_as_they_were_hashed(log: AuditLog) -> None:
    made = log.record(actor="a", action="b", subject="c", details={"t": (1, 2), "f": 0.1, "big": 2**70})
    assert log.entries()[0].details == {"t": [1, 2], "f": 0.1, "big": 2**70} == made.details
    assert log.verify().ok


# ---- tampering: each change to a row is found, at the row ----------------------------------------------


def _tamper(db: Database, *statements: Any) -> None:
    with db.engine.begin() as conn:
        for statement in statements:
            conn.execute(statement)


def test_changed_details_are_found(db: Database, log: AuditLog, clock: ManualClock) -> None:
    _fill(log, clock)
    _tamper(db, update(AuditEntry).where(AuditEntry.seq == 3).values(details={"i": 3, "why": "e"}))
    problem = log.verify().problem
    assert problem is not None and (problem.seq, problem.kind) == (3, "altered")


@pytest.mark.parametrize("column", ["actor", "action", "subject"])
def test_changed_columns_are_found(db: Database, log: AuditLog, clock: ManualClock, column: str) -> None:
    _fill(log, clock)
    _tamper(db, update(AuditEntry).where(AuditEntry.seq == 2).values({column: "someone-else"}))
    problem = log.verify().problem
    assert problem is not None and (problem.seq, problem.kind) == (2, "altered")


def test_a_deleted_row_is_found(db: Database, log: AuditLog, clock: ManualClock) -> None:
    _fill(log, clock)
    _tamper(db, delete(AuditEntry).where(AuditEntry.seq == 2))
    problem = log.verify().problem
    assert problem is not None and (problem.seq, problem.kind) == (2, "missing")


def test_a_deleted_last_row_is_found(db: Database, log: AuditLog, clock: ManualClock) -> None:
    _fill(log, clock)
    _tamper(db, delete(AuditEntry).where(AuditEntry.seq == 5))
    problem = log.verify().problem
    assert problem is not None and problem.kind == "head_mismatch" and "ends at entry 4" in problem.message


def test_reordered_rows_are_found(db: Database, log: AuditLog, clock: ManualClock) -> None:
    _fill(log, clock)
    _tamper(
        db,
        update(AuditEntry).where(AuditEntry.seq == 2).values(seq=-1),
        update(AuditEntry).where(AuditEntry.seq == 3).values(seq=2),
        update(AuditEntry).where(AuditEntry.seq == -1).values(seq=3),
    )
    problem = log.verify().problem
    assert problem is not None and problem.seq == 2 and problem.kind in {"altered", "broken_link"}


def test_a_changed_head_row_is_found(db: Database, log: AuditLog, clock: ManualClock) -> None:
    _fill(log, clock)
    _tamper(db, update(AuditHead).values(hash=GENESIS))
    problem = log.verify().problem
    assert problem is not None and (problem.seq, problem.kind) == (5, "head_mismatch")


def test_a_relinked_row_is_found(db: Database, log: AuditLog, clock: ManualClock) -> None:
    _fill(log, clock)
    _tamper(db, update(AuditEntry).where(AuditEntry.seq == 4).values(prev_hash=GENESIS))
    problem = log.verify().problem
    assert problem is not None and (problem.seq, problem.kind) == (4, "broken_link")


def test_a_rewritten_chain_is_found_by_its_anchor(db: Database, log: AuditLog, clock: ManualClock) -> None:
    # Prepare: anchor after 3 entries, then rewrite entry 2 and re-hash everything after it consistently
    _fill(log, clock, 3)
    anchor = log.anchor()
    assert anchor is not None and anchor.seq == 3
    _fill(log, clock, 2)
    with db.transaction() as s:
        prev = s.scalars(select(AuditEntry.hash).where(AuditEntry.seq == 1)).one()
        for row in s.scalars(select(AuditEntry).where(AuditEntry.seq >= 2).order_by(AuditEntry.seq)):
            details = {**row.details, "i": 99} if row.seq == 2 else row.details
            digest = entry_hash(row.seq, row.at, row.actor, row.action, row.subject, details, prev)
            row.details, row.prev_hash, row.hash, prev = details, prev, digest, digest
        s.execute(update(AuditHead).values(hash=prev))
    # Execute
    report = log.verify()
    # Assert: the chain is consistent again, but entry 3 no longer matches what was anchored
    assert report.problem is not None
    assert (report.problem.seq, report.problem.kind) == (3, "anchor_mismatch")


def test_a_truncated_anchored_log_is_found(db: Database, log: AuditLog, clock: ManualClock) -> None:
    _fill(log, clock, 3)
    log.anchor()
    with db.transaction() as s:
        two = s.scalars(select(AuditEntry).where(AuditEntry.seq == 2)).one()
        s.execute(update(AuditHead).values(seq=2, hash=two.hash))
        s.execute(delete(AuditEntry).where(AuditEntry.seq == 3))
    problem = log.verify().problem
    assert problem is not None and (problem.seq, problem.kind) == (3, "missing")


# ---- anchors --------------------------------------------------------------------------------------------


def test_anchor_records_the_head_as_pending(log: AuditLog, clock: ManualClock) -> None:
    with pytest.raises(Conflict):
        log.anchor()
    _fill(log, clock, 2)
    made = log.anchor()
    assert made is not None and (made.seq, made.status, made.tx_hash) == (2, "pending", None)
    assert made.head_hash == log.entries()[-1].hash and "not sent" in (made.note or "")
    assert log.anchor() is None  # nothing new since
    _fill(log, clock, 2)
    assert log.anchor(min_new_entries=3) is None
    later = log.anchor(min_new_entries=2)
    assert later is not None and later.seq == 4
    assert [a.seq for a in log.anchors()] == [2, 4]
    report = log.verify()
    assert report.ok and report.anchors_checked == 2


# ---- concurrency ----------------------------------------------------------------------------------------


def test_concurrent_appends_keep_one_chain(db: Database) -> None:
    # Prepare: writers in threads, each append in a transaction of its own
    log = AuditLog(db)
    writers, each = 6, 15
    errors: list[BaseException] = []

    def write(w: int) -> None:
        try:
            for i in range(each):
                with db.transaction() as s:
                    log.append(s, actor=f"w{w}", action="grant", subject=f"{w}:{i}")
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    verdicts: list[bool] = []
    done = threading.Event()

    def verify_meanwhile() -> None:  # appends running during verify() are not tampering
        while not done.is_set():
            verdicts.append(log.verify().ok)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    checker = threading.Thread(target=verify_meanwhile)
    # Execute
    checker.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    checker.join()
    # Assert
    assert errors == []
    assert verdicts and all(verdicts)
    report = log.verify()
    assert report.ok and report.entries == writers * each
    assert [e.seq for e in log.entries(limit=1000)] == list(range(1, writers * each + 1))
    with db.transaction() as s:
        assert s.scalar(select(AuditAnchor.id)) is None
