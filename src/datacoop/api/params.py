"""Path and query parameters every route shares, checked at the edge.

Ids are database keys: PostgreSQL ``INTEGER`` columns (signed 32-bit), so anything
outside 1..2**31-1 is refused with a 422 naming the parameter before a query is
built (a larger value would fail inside PostgreSQL, and past 2**63 cannot even be
bound on SQLite). Offsets, counts and times stop at 2**63-1; page sizes are capped
where each list route declares them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Protocol, TypeVar

from fastapi import Path, Query, Response

from datacoop.schemas import MAX_BIGINT, MAX_ID, UINT256_END

__all__ = [
    "MAX_ID",
    "NEXT_CURSOR",
    "PAGED",
    "After",
    "Count",
    "Id",
    "Index",
    "MaybeId",
    "Offset",
    "Page",
    "UnixSeconds",
    "Wei",
    "page_by",
    "page_of",
]


class _Identified(Protocol):
    @property
    def id(self) -> int: ...


_HasId = TypeVar("_HasId", bound=_Identified)
_Row = TypeVar("_Row")

Id = Annotated[int, Path(ge=1, le=MAX_ID, description="a row id, 1 to 2**31-1")]
"""A row id in the path (``/tasks/{task_id}``)."""

Index = Annotated[int, Path(ge=0, le=MAX_ID, description="a 0-based position, at most 2**31-1")]
"""A position in a list, in the path (``/proof/{index}``)."""

MaybeId = Annotated[int | None, Query(ge=1, le=MAX_ID, description="a row id, 1 to 2**31-1")]
"""An optional row id used as a filter (``?task_id=``)."""

Offset = Annotated[int, Query(ge=0, le=MAX_BIGINT, description="rows to skip, 0 to 2**63-1")]
"""How many rows a page skips."""

Page = Annotated[int, Query(ge=1, le=500, description="rows per page, 1 to 500")]
"""How many rows a page holds."""

After = Annotated[
    int | None,
    Query(ge=0, le=MAX_ID, description="start after this id: the previous page's X-Next-Cursor header"),
]
"""A keyset page's start: the last id of the page before."""

NEXT_CURSOR = "X-Next-Cursor"
"""The header a keyset page sets when more rows follow: the ``after`` of the next page."""


PAGED: dict[int | str, dict[str, object]] = {
    200: {"headers": {NEXT_CURSOR: {"description": "the next page's `after`, when more rows follow",
                                    "schema": {"type": "string"}}}}
}  # fmt: skip
"""The ``responses=`` of a keyset-paged route: its 200 may carry :data:`NEXT_CURSOR`."""


def page_of(response: Response, rows: list[_HasId], limit: int) -> list[_HasId]:
    """The first ``limit`` of ``rows`` (read as ``limit + 1``); sets :data:`NEXT_CURSOR` when more follow."""
    return page_by(response, rows, limit, lambda row: row.id)


def page_by(response: Response, rows: list[_Row], limit: int, key: Callable[[_Row], int]) -> list[_Row]:
    """:func:`page_of` for rows keyed by another unique column (a claim's ``task_id``)."""
    if len(rows) > limit:
        response.headers[NEXT_CURSOR] = str(key(rows[limit - 1]))
    return rows[:limit]


Count = Annotated[int | None, Query(ge=0, le=MAX_BIGINT, description="a count or size, 0 to 2**63-1")]
"""An optional bound on a count or a byte size (``?min_items=``)."""

Wei = Annotated[int | None, Query(ge=0, lt=UINT256_END, description="token base units, a uint256")]
"""An optional amount of token base units (``?max_price=``)."""

UnixSeconds = Annotated[int, Query(ge=0, le=MAX_BIGINT, description="unix seconds")]
"""A time in unix seconds (a signed link's ``expires``)."""
