"""Settlement: epochs of cumulative entitlements, posted on chain exactly once, and claims.

Closing an epoch is one database transaction: it records the earnings of newly
accepted items (and useful votes), takes them oldest first while the escrow
covers them, writes the epoch with every account's cumulative entitlement, and
enqueues the ``postRoot`` transaction in the outbox under the epoch's key. So a
crash leaves either nothing or an epoch whose posting the relay will finish;
the relay never sends one record twice, and the contract refuses an epoch
number it has already seen. An epoch's status follows its outbox record:

    pending (not in a canonical block yet) → posted (mined) → confirmed (N blocks)
    posted ──reorged out──► pending            pending ──refused/reverted──► failed

A failed epoch releases its earnings to the next one. Claims always use the
newest *confirmed* epoch, whose tree is rebuilt from the stored entitlements and
checked against the stored root.

:class:`SettlementService` is the face the node uses. It runs the settlement loop
(:meth:`~SettlementService.tick`) and hands every other call to its parts, which share
one set of :class:`~datacoop.settlement.handles.Handles`: :mod:`~datacoop.settlement.funding`
(linking escrow tasks), :mod:`~datacoop.settlement.epochs` (closing and following epochs) and
:mod:`~datacoop.settlement.claims` (claims, statements, spending).
"""

from __future__ import annotations

from datetime import timedelta

from datacoop.chain.contracts import TaskEscrow
from datacoop.chain.gasless import SignedClaim
from datacoop.chain.setup import ChainHandle
from datacoop.clock import Clock, utc_now
from datacoop.db import Database
from datacoop.errors import Conflict
from datacoop.identity.schemas import Caller
from datacoop.settlement.claims import Claims
from datacoop.settlement.earnings import VoteReward, VoteRewards, no_votes
from datacoop.settlement.epochs import Epochs, EpochView
from datacoop.settlement.funding import Funding
from datacoop.settlement.handles import Handles
from datacoop.settlement.relaying import ClaimRelay, Relayed
from datacoop.settlement.schemas import (
    ClaimPublic,
    ClaimRelayCreate,
    ClaimRelayPublic,
    FundingPublic,
    SpendPublic,
    StatementPublic,
)

__all__ = ["EpochView", "SettlementService", "VoteReward"]


class SettlementService:
    """Epochs, their posting through the outbox, claims and statements for one node.

    Args:
        chain: the node's chain; without one every call that needs it says so (Unavailable).
        vote_rewards: the review service's useful-vote rewards for a task, read in the caller's session.
        epoch_interval: how often :meth:`tick` closes an epoch of every funded task (never when None).
    """

    def __init__(
        self,
        db: Database,
        chain: ChainHandle | None,
        *,
        clock: Clock = utc_now,
        vote_rewards: VoteRewards = no_votes,
        epoch_interval: timedelta | None = None,
    ) -> None:
        self._h = Handles(db, chain, clock)
        self._funding = Funding(self._h)
        self._epochs = Epochs(self._h, vote_rewards)
        self._claims = Claims(self._h)
        self._relay = ClaimRelay(self._h, self._claims)
        self._interval, self._last_round = epoch_interval, clock()

    def tick(self, _worker: str = "") -> bool:
        """One round of the node's settlement loop: close epochs when the schedule says, move postings on.

        Returns True when something changed (the loop then comes back at once).
        """
        if self._h.chain is None:
            return False
        now = self._h.clock()
        closed = False
        if self._interval and now - self._last_round >= self._interval:
            self._last_round = now
            for task_id in self.funded_tasks():
                try:
                    closed |= self.close_epoch(task_id) is not None
                except Conflict:  # still posting the last one: it goes next round
                    continue
        return bool(self.sync()) or closed

    def _escrow(self) -> TaskEscrow:
        return self._h.escrow()

    def is_operator(self, address: str) -> bool:
        return self._h.is_operator(address)

    # --- funding: settlement/funding.py ---------------------------------------------------------

    def funded_tasks(self) -> list[int]:
        return self._funding.funded_tasks()

    def link_escrow(self, requester: Caller, task_id: int, escrow_task_id: int) -> FundingPublic:
        """Tie a task to the TaskEscrow task its requester opened (and funded) on chain."""
        return self._funding.link_escrow(requester, task_id, escrow_task_id)

    # --- epochs: settlement/epochs.py -----------------------------------------------------------

    def close_epoch(self, task_id: int) -> EpochView | None:
        """Close the task's next epoch and enqueue its posting; None when there is nothing to pay."""
        return self._epochs.close_epoch(task_id)

    def sync(self) -> list[EpochView]:
        """Bring every open epoch's status up to date from the outbox (the chain follower's work)."""
        return self._epochs.sync()

    def drive(self) -> list[EpochView]:
        """One step of the outbox, then :meth:`sync`: for a caller with no chain follower running (the
        CLI, tests); a no-op step while another process holds the outbox."""
        return self._epochs.drive()

    def settle(self, task_id: int, *, timeout: float = 120) -> EpochView | None:
        """Close an epoch and drive it until it is confirmed or failed (the CLI's `epoch close --wait`)."""
        return self._epochs.settle(task_id, timeout=timeout)

    def epoch(self, task_id: int, number: int, *, include_failed: bool = False) -> EpochView:
        return self._epochs.epoch(task_id, number, include_failed=include_failed)

    def epochs(self, task_id: int, *, after: int | None = None, limit: int | None = None) -> list[EpochView]:
        return self._epochs.epochs(task_id, after=after, limit=limit)

    # --- claims and statements: settlement/claims.py --------------------------------------------

    def claims(
        self, address: str, *, after: int | None = None, limit: int | None = None
    ) -> list[ClaimPublic]:
        """Per task owing ``address`` (task ids after ``after``, at most ``limit``): the cumulative amount,
        its proof and what is claimed on chain."""
        return self._claims.claims(address, after=after, limit=limit)

    def statement(self, address: str) -> StatementPublic:
        """Per task and epoch, which items and votes earned ``address`` what (and what still waits)."""
        return self._claims.statement(address)

    def spend(self, requester: Caller, task_id: int) -> SpendPublic:
        """The requester's view: funded, posted, paid, remaining and cost per accepted item."""
        return self._claims.spend(requester, task_id)

    def relay_claim(self, task_id: int, signed: SignedClaim) -> Relayed:
        """Check a contributor's signed gasless claim and enqueue it; the node's operator sends it."""
        return self._relay.relay(task_id, signed)

    def relay_claim_request(self, task_id: int, body: ClaimRelayCreate) -> ClaimRelayPublic:
        """:meth:`relay_claim` for the API: the authorisation and signature as the request carries them."""
        return self._relay.relay_request(task_id, body)
