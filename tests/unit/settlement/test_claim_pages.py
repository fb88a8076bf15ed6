"""A page of claims is full even when some tasks owing the account have no claimable root yet.

The tasks owing an account are read in SQL a page at a time; a task whose root is still in its challenge
window shows no claim, so :meth:`Claims.claims` reads on until the page (``limit`` rows) is full. The
database and the chain are stood in for here; tests/integration/chain/test_settlement_api.py runs the
real ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import pytest

from datacoop.settlement.claims import Claims
from datacoop.settlement.handles import Handles
from datacoop.settlement.schemas import ClaimPublic

OWING = list(range(1, 12))  # task ids owing the account
CLAIMABLE = {1, 2, 5, 6, 7, 11}  # the others' roots are in their challenge window
ACCOUNT = "0x" + "ab" * 20


def _claim(task_id: int) -> ClaimPublic:
    return ClaimPublic(
        task_id=task_id, escrow=ACCOUNT, escrow_task_id=task_id, vault=ACCOUNT, epoch=1, account=ACCOUNT,
        cumulative="1", claimed="0", claimable="1", proof=[], root="0x" + "00" * 32,
    )  # fmt: skip


@pytest.fixture
def claims(monkeypatch: pytest.MonkeyPatch) -> tuple[Claims, list[int | None]]:
    reads: list[int | None] = []

    def owing(self: Claims, account: str, after: int | None, limit: int | None) -> Sequence[int]:
        reads.append(after)
        rest = [t for t in OWING if after is None or t > after]
        return rest if limit is None else rest[:limit]

    def claims_of(self: Claims, account: str, task_ids: Sequence[int]) -> list[ClaimPublic]:
        return [_claim(t) for t in task_ids if t in CLAIMABLE]

    monkeypatch.setattr(Claims, "_owing", owing)
    monkeypatch.setattr(Claims, "_claims", claims_of)
    return Claims(cast(Handles, None)), reads  # the stand-ins above touch no handle


def test_a_page_reads_on_past_tasks_with_nothing_claimable(claims: tuple[Claims, list[int | None]]) -> None:
    # Prepare
    service, reads = claims
    # Execute: pages of 2 (read as 3, as the route does), following the last task id shown
    pages, after = [], None
    while True:
        rows = service.claims(ACCOUNT, after=after, limit=3)
        pages.append([c.task_id for c in rows[:2]])
        if len(rows) <= 2:
            break
        after = rows[1].task_id
    # Assert: full pages, each claimable task once and in order; the SQL reads stopped at each full page
    assert pages == [[1, 2], [5, 6], [7, 11]]
    assert reads == [None, 3, 2, 5, 6, 9]
    assert [c.task_id for c in service.claims(ACCOUNT)] == sorted(CLAIMABLE)  # unpaged: every one
