"""Settlement's public shapes: what its routes answer (and the SDK and web app read)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from datacoop.schemas import EcdsaSignature, Uint256
from datacoop.tasks.schemas import TokenPublic

__all__ = [
    "ClaimPublic",
    "ClaimRelayCreate",
    "ClaimRelayPublic",
    "EpochPublic",
    "FundingPublic",
    "SpendPublic",
    "StatementEpoch",
    "StatementItem",
    "StatementPublic",
]


class ClaimPublic(BaseModel):
    """An account's claim on one task, from the task's newest confirmed epoch: send ``proof`` with
    ``cumulative`` to the task's vault; amounts are token base units, as decimal text."""

    model_config = ConfigDict(frozen=True)

    task_id: int
    escrow: str = Field(description="the TaskEscrow contract holding the task's funds")
    escrow_task_id: int = Field(description="the task's id inside that escrow")
    vault: str = Field(description="the task's vault: claims are sent here")
    epoch: int = Field(description="the epoch whose root the proof is against")
    account: str
    cumulative: str = Field(description="everything the account has earned on the task so far")
    claimed: str = Field(description="what the vault has already paid the account")
    claimable: str = Field(description="cumulative minus claimed, never below 0")
    proof: list[str] = Field(description="Merkle proof of (account, cumulative): 0x-hex 32-byte words")
    root: str = Field(description="the epoch's Merkle root, as posted on chain")
    token: TokenPublic | None = Field(
        default=None, description="the task's token, what the amounts are in (null: never recorded)"
    )


class FundingPublic(BaseModel):
    """A task's link to the TaskEscrow task that pays for it (``POST /v1/tasks/{task_id}/escrow``)."""

    model_config = ConfigDict(frozen=True)

    task_id: int
    escrow: str = Field(description="the TaskEscrow contract holding the task's funds")
    escrow_task_id: int = Field(description="the task's id inside that escrow")
    token: TokenPublic = Field(description="the ERC-20 the escrow task is funded in (the task's)")
    funded: str = Field(description="what the escrow task was funded with so far, base units as decimal text")


class EpochPublic(BaseModel):
    """One epoch of a task: its Merkle root, totals and where its posting on chain stands; amounts are
    token base units, as decimal text."""

    model_config = ConfigDict(frozen=True)

    task_id: int
    epoch: int = Field(description="the epoch's number within the task, from 1")
    status: str = Field(description="pending, posted, confirmed or failed")
    root: str = Field(description="the Merkle root of every account's cumulative entitlement")
    total: str = Field(description="everything the task owes up to this epoch (cumulative)")
    added: str = Field(description="what this epoch adds to the previous one's total")
    earnings: int = Field(description="how many earnings (items and votes) this epoch pays")
    shortfall: str = Field(description="what was owed but not covered by the escrow (waits for a top-up)")
    tx_hash: str | None = Field(description="the postRoot transaction, once sent")
    error: str | None = Field(description="why the posting failed, when it did")
    token: TokenPublic | None = Field(
        default=None, description="the task's token, what the amounts are in (null: never recorded)"
    )
    id: int = Field(default=0, description="the epoch's row id, a page's `after` (a failed number is reused)")


class SpendPublic(BaseModel):
    """A requester's spending on one task; amounts are token base units, as decimal text."""

    model_config = ConfigDict(frozen=True)

    task_id: int
    escrow_task_id: int = Field(description="the task's id inside its TaskEscrow")
    funded: str = Field(description="what the escrow task was funded with, as the chain says")
    posted: str = Field(description="the newest confirmed epoch's total: what contributors are owed")
    paid: str = Field(description="what the vault has paid out in claims, as the chain says")
    remaining: str = Field(description="funded minus posted")
    accepted_items_paid: int = Field(description="accepted items a confirmed epoch has paid")
    cost_per_item: str | None = Field(description="posted divided by the items paid; null before any")
    earnings_waiting: int = Field(description="earnings no epoch has taken yet")
    top_up_needed: str = Field(description="the newest confirmed epoch's shortfall, 0 when covered")
    token: TokenPublic | None = Field(
        default=None, description="the task's token, what the amounts are in (null: never recorded)"
    )


class StatementItem(BaseModel):
    """One earning: an accepted item or a useful vote, and what it earned."""

    model_config = ConfigDict(frozen=True)

    kind: str = Field(description="item (an accepted submission) or vote (a useful review vote)")
    id: int = Field(description="the submission's or the vote's id")
    amount: str = Field(description="token base units, as decimal text")


class StatementEpoch(BaseModel):
    """An account's earnings on one task in one epoch (or still waiting for one)."""

    model_config = ConfigDict(frozen=True)

    task_id: int
    epoch: int | None = Field(description="the epoch that took the earnings; null while they wait")
    status: str = Field(description="the epoch's status, or waiting")
    total: str = Field(description="the items' amounts summed, base units as decimal text")
    items: list[StatementItem]
    token: TokenPublic | None = Field(
        default=None, description="the task's token, what the amounts are in (null: never recorded)"
    )


class StatementPublic(BaseModel):
    """Which items and votes earned an account what, per task and epoch, in order."""

    model_config = ConfigDict(frozen=True)

    account: str
    epochs: list[StatementEpoch]


_ADDRESS = r"^0x[0-9a-fA-F]{40}$"


class ClaimRelayCreate(BaseModel):
    """A gasless claim: the contributor's EIP-712 ``Claim`` (domain: the task's vault and the chain),
    with its signature; the node relays it and earns ``fee``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    chain_id: int = Field(ge=1, lt=2**64, description="the chain id the signature's domain names")
    vault: str = Field(pattern=_ADDRESS, description="the task's vault: the domain's verifyingContract")
    account: str = Field(pattern=_ADDRESS, description="the contributor, who signed")
    cumulative: Uint256 = Field(description="the cumulative amount the claimable root pays the account")
    relayer: str = Field(pattern=_ADDRESS, description="the node's operator, or the zero address for anyone")
    fee: Uint256 = Field(description="token base units to the relayer, at most 10 % of what the claim pays")
    deadline: Uint256 = Field(description="unix seconds after which the signature is void")
    signature: EcdsaSignature


class ClaimRelayPublic(BaseModel):
    """A relayed claim: its outbox record (the node's chain follower sends it once)."""

    model_config = ConfigDict(frozen=True)

    key: str = Field(description="the outbox key: one per vault, account and cumulative amount")
    status: str = Field(
        description="the outbox record's status (pending, signed, sent, mined, confirmed, ...)"
    )
    tx_hash: str | None = Field(description="the claimWithSig transaction, once sent")
