"""The database adapter: one engine, one session factory, one transaction per use case."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from datacoop.errors import Unavailable

__all__ = ["Database"]


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets the API read while a worker writes; foreign keys are off by default in SQLite.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


class Database:
    """A SQLAlchemy engine and session factory for one database URL.

    Args:
        url: a SQLAlchemy URL (``sqlite:///path`` or ``postgresql+psycopg://…``).
        schema: PostgreSQL schema to use instead of ``public`` (tests run in a schema of their own).
    """

    def __init__(self, url: str, *, schema: str | None = None, echo: bool = False) -> None:
        self.url = url
        self.schema = schema
        self.engine: Engine = self._create_engine(url, schema, echo)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @staticmethod
    def _create_engine(url: str, schema: str | None, echo: bool) -> Engine:
        if url.startswith("sqlite"):
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False})
            event.listen(engine, "connect", _sqlite_pragmas)
            return engine
        connect_args = {"options": f"-csearch_path={schema}"} if schema else {}
        return create_engine(url, echo=echo, pool_pre_ping=True, connect_args=connect_args)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session inside one transaction: committed on success, rolled back on any error."""
        try:
            with self._sessions.begin() as session:
                yield session
        except OperationalError as exc:
            raise Unavailable(f"the database cannot be reached: {exc.orig}", field="database") from exc

    def ping(self) -> dict[str, Any]:
        """What GET /v1/health reports for the database; Unavailable if it does not answer."""
        with self.transaction() as s:
            s.execute(text("SELECT 1"))
        return {"dialect": self.dialect, "url": self.engine.url.render_as_string(hide_password=True)}

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        from datacoop.db.migrate import upgrade  # alembic loads only when a schema is migrated

        upgrade(self.engine, self.schema)

    def dispose(self) -> None:
        self.engine.dispose()
