"""Alembic, driven from code: no alembic.ini needed at run time.

Takes an engine and a schema, not a :class:`~datacoop.db.engine.Database`, so the engine module
may call it without the two modules importing each other.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

__all__ = ["alembic_config", "upgrade"]

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(engine: Engine, schema: str | None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection_engine"] = engine
    cfg.attributes["schema"] = schema
    return cfg


def upgrade(engine: Engine, schema: str | None, revision: str = "heads") -> None:
    """Bring ``schema`` (None: the connection's default) to ``revision`` in one transaction."""
    with engine.begin() as conn:
        cfg = alembic_config(engine, schema)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
