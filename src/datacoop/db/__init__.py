"""The database adapter: models, engine, migrations."""

from datacoop.db.engine import Database

__all__ = ["Database"]
