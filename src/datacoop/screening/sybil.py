"""Accounts that look like one person's: a shared device, or one funder behind several contributors.

:class:`SybilSignals` gives, for one submission, the reasons to send it to a person (none: no link):

- ``device fingerprint shared with N other accounts``: at least ``device_shared_with`` other
  accounts sent submissions with the same device fingerprint (its hash; see
  :func:`datacoop.tasks.submissions.device_hash`), anywhere on the node.
- ``funded by 0x… like N other contributors``: at least ``funder_shared_with`` other
  contributors to the same task were first sent ETH by the same address
  (:class:`~datacoop.chain.funders.FunderLookup`), unless that address is exempt (the
  operator, a faucet). Funders of the task's other contributors not yet known are looked up
  too, at most :data:`LOOKUPS_PER_ITEM` per item, so the first of a ring screened sees the rest.

The fraud stage turns these into ``unsure`` with the reasons, so the item goes to review, never
to a rejection. An item screened before its ring's other accounts arrived is not flagged again.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, and_, func, select

from datacoop.chain.funders import FunderLookup
from datacoop.db import Database
from datacoop.db.models import AccountFunder, Participant, Submission

__all__ = ["LOOKUPS_PER_ITEM", "SybilSignals"]

LOOKUPS_PER_ITEM = 50  # chain look-ups of other contributors' funders per screened item


class SybilSignals:
    """``(submission id) -> reasons``: what links the submission's contributor to other accounts.

    Args:
        db: the node's database.
        funders: the chain's funder look-up; None on a node without a chain (no funder signal).
        device_shared_with: other accounts on one device that flag it (0: off).
        funder_shared_with: other contributors to the task with the same funder that flag it (0: off).
        exempt: funders that link nobody (the operator, a faucet).
    """

    def __init__(
        self,
        db: Database,
        funders: FunderLookup | None = None,
        *,
        device_shared_with: int = 2,
        funder_shared_with: int = 2,
        exempt: Iterable[str] = (),
    ) -> None:
        self._db, self._funders = db, funders
        self._device_shared_with, self._funder_shared_with = device_shared_with, funder_shared_with
        self._exempt = frozenset(a.lower() for a in exempt)

    def __call__(self, submission_id: int) -> list[str]:
        with self._db.transaction() as s:
            sub = s.get(Submission, submission_id)
            if sub is None:
                return []
            task_id, me, address, device = (
                sub.task_id,
                sub.contributor_id,
                sub.contributor.address,
                sub.device_hash,
            )
        reasons = [self._device(device, me), self._funder(task_id, me, address)]
        return [r for r in reasons if r]

    def _device(self, device: str | None, me: int) -> str | None:
        if device is None or not self._device_shared_with:
            return None
        with self._db.transaction() as s:
            others = s.scalar(
                select(func.count(func.distinct(Submission.contributor_id))).where(
                    Submission.device_hash == device, Submission.contributor_id != me
                )
            )
        n = int(others or 0)
        if n < self._device_shared_with:
            return None
        return f"device fingerprint shared with {n} other account{'s' if n != 1 else ''}"

    def _funder(self, task_id: int, me: int, address: str) -> str | None:
        if self._funders is None or not self._funder_shared_with:
            return None
        funder = self._funders.funder(address)
        if funder is None or funder.lower() in self._exempt:
            return None
        for other in self._unknown_funders(task_id, me):
            self._funders.funder(other)
        with self._db.transaction() as s:
            alike = s.scalar(
                select(func.count(func.distinct(Participant.id)))
                .join(Submission, Submission.contributor_id == Participant.id)
                .join(AccountFunder, self._funder_row())
                .where(Submission.task_id == task_id, Participant.id != me, AccountFunder.funder == funder)
            )
        n = int(alike or 0)
        if n < self._funder_shared_with:
            return None
        return f"funded by {funder} like {n} other contributor{'s' if n != 1 else ''}"

    def _unknown_funders(self, task_id: int, me: int) -> list[str]:
        """The task's other contributors whose funder is not known yet, at most :data:`LOOKUPS_PER_ITEM`."""
        with self._db.transaction() as s:
            return list(
                s.scalars(
                    select(Participant.address)
                    .join(Submission, Submission.contributor_id == Participant.id)
                    .outerjoin(AccountFunder, self._funder_row())
                    .where(
                        Submission.task_id == task_id, Participant.id != me, AccountFunder.funder.is_(None)
                    )
                    .group_by(Participant.address)
                    .order_by(func.min(Submission.id))
                    .limit(LOOKUPS_PER_ITEM)
                )
            )

    def _funder_row(self) -> ColumnElement[bool]:
        """Joins a participant to its cached funder on this chain."""
        assert self._funders is not None
        return and_(
            AccountFunder.chain_id == self._funders.chain_id, AccountFunder.address == Participant.address
        )
