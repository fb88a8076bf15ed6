"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from datacoop.db import Database
from datacoop.db.models import Base


def test_migrations_match_models(db: Database) -> None:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_migrate_is_idempotent(db: Database) -> None:
    db.migrate()  # already at head: a second run must change nothing and not fail
    tables = set(inspect(db.engine).get_table_names())
    assert {"participants", "tasks", "blobs", "submissions", "auth_nonces", "auth_sessions"} <= tables


def test_uint256_round_trips_every_digit(db: Database) -> None:
    from datetime import UTC, datetime

    from datacoop.db.models import Blob, Participant, Submission, Task

    big = 2**256 - 1
    now = datetime.now(UTC)
    with db.transaction() as s:
        p = Participant(address="0x" + "11" * 20, created_at=now, last_seen_at=now)
        s.add(p)
        s.flush()
        t = Task(
            requester_id=p.id, title="t", description="d", modality="image", rules={}, reward_per_item=big,
            target_count=1, deadline=now, consent_text="c", consent_hash="0x" + "00" * 32, licence="x",
            allowed_jurisdictions=[], status="open", created_at=now,
        )  # fmt: skip
        s.add_all([t, Blob(cid="bafkx", size=1, profile="kubo-cidv1", uploader_id=p.id, created_at=now)])
        s.flush()
        s.add(
            Submission(
                task_id=t.id,
                contributor_id=p.id,
                cid="bafkx",
                consent_hash="0x",
                jurisdiction="KE",
                nonce=big,
                deadline=1,
                signature="0x",
                digest="0x1",
                state="received",
                created_at=now,
                updated_at=now,
            )
        )
    with db.transaction() as s:
        task = s.query(Task).one()
        assert task.reward_per_item == big
        assert task.deadline == now  # aware UTC in, aware UTC out
        assert s.query(Submission).one().nonce == big
