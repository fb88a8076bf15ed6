"""Settlement's public shapes: what ``GET /v1/claims/{address}`` answers (and the SDK and web app read)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ClaimPublic"]


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
