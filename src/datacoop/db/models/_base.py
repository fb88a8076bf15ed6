"""The declarative base every table shares, and its naming convention."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    MetaData,
    text,
)
from sqlalchemy.orm import DeclarativeBase

from datacoop.db.types import UtcDateTime

__all__ = ["Base"]


# A posting (an epoch, a royalty round) that is neither confirmed nor failed.
_OPEN = text("status IN ('pending', 'posted')")


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime,
        dict[str, Any]: JSON,
        list[str]: JSON,
    }
    metadata = MetaData(naming_convention=NAMING)
