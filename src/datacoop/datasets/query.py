"""What a dataset selects: a query over accepted items, checked at the edge."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from datacoop.errors import InvalidInput
from datacoop.identity.addresses import normalize_jurisdiction
from datacoop.schemas import IsoDate, RowId

__all__ = ["MAX_QUERY_TASKS", "DatasetQuery", "parse_query"]

MAX_QUERY_TASKS = 1000


class DatasetQuery(BaseModel):
    """Accepted items of ``task_ids``, narrowed by labels, creation dates, countries and licence.

    ``labels`` maps a label name to the value (or any of the values) an item must carry;
    ``created_from`` and ``created_to`` are inclusive UTC dates.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    task_ids: list[RowId] = Field(min_length=1, max_length=MAX_QUERY_TASKS)
    labels: dict[str, Any] = Field(default_factory=dict)
    created_from: IsoDate | None = None
    created_to: IsoDate | None = None
    jurisdictions: list[str] = Field(default_factory=list)
    licence: str | None = Field(default=None, min_length=1, max_length=200)

    @field_validator("jurisdictions")
    @classmethod
    def _countries(cls, codes: list[str]) -> list[str]:
        return sorted({normalize_jurisdiction(code, field="query.jurisdictions") for code in codes})

    @field_validator("task_ids")
    @classmethod
    def _tasks(cls, ids: list[int]) -> list[int]:
        return sorted(set(ids))

    def matches_date(self, created_at: datetime) -> bool:
        day = created_at.date()
        return (self.created_from is None or day >= self.created_from) and (
            self.created_to is None or day <= self.created_to
        )

    def matches_labels(self, labels: dict[str, Any]) -> bool:
        for name, wanted in self.labels.items():
            have = labels.get(name)
            options = wanted if isinstance(wanted, list) else [wanted]
            values = have if isinstance(have, list) else [have]
            if not any(value in options for value in values):
                return False
        return True

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def parse_query(data: object) -> DatasetQuery:
    """A query from JSON; InvalidInput names the first bad field (``query.<name>``) and its limit."""
    if isinstance(data, DatasetQuery):
        return data
    try:
        query = DatasetQuery.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        limit = (error.get("ctx") or {}).get("max_length") or (error.get("ctx") or {}).get("min_length")
        raise InvalidInput(f"query.{where}: {error['msg']}", field=f"query.{where}", limit=limit) from None
    if query.created_from and query.created_to and query.created_from > query.created_to:
        raise InvalidInput("query.created_from is after query.created_to", field="query.created_from")
    return query
