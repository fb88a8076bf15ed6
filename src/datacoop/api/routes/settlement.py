"""Settlement: funding a task's escrow, epochs, claims and statements."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, ConfigDict, Field

from datacoop.api.deps import CurrentCaller, NodeDep, Operator, own_account
from datacoop.api.openapi import NOTHING_NEW
from datacoop.api.params import Id
from datacoop.settlement.schemas import ClaimPublic, EpochPublic, FundingPublic, SpendPublic, StatementPublic

router = APIRouter(tags=["settlement"])


class EscrowLink(BaseModel):
    model_config = ConfigDict(extra="forbid")
    escrow_task_id: int = Field(ge=1, lt=2**256, description="the TaskEscrow task id returned by openTask")


@router.post("/tasks/{task_id}/escrow", response_model=FundingPublic, status_code=status.HTTP_201_CREATED)
def link_escrow(node: NodeDep, who: CurrentCaller, task_id: Id, body: EscrowLink) -> FundingPublic:
    """Tie the task to the escrow task its requester opened and funded on chain."""
    return node.settlement.link_escrow(who, task_id, body.escrow_task_id)


@router.post(
    "/tasks/{task_id}/epochs",
    status_code=status.HTTP_201_CREATED,
    response_model=EpochPublic,
    responses={204: NOTHING_NEW},
)
def close_epoch(node: NodeDep, _operator: Operator, task_id: Id) -> EpochPublic | Response:
    """Close the task's next epoch now (operator only); 204 when nothing new is owed."""
    view = node.settlement.close_epoch(task_id)
    if view is None:
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    return view.public()


@router.get("/tasks/{task_id}/epochs", response_model=list[EpochPublic])
def list_epochs(node: NodeDep, task_id: Id) -> list[EpochPublic]:
    """Every epoch of the task, failed ones included, oldest first."""
    return [e.public() for e in node.settlement.epochs(task_id)]


@router.get("/tasks/{task_id}/spend", response_model=SpendPublic)
def spend(node: NodeDep, who: CurrentCaller, task_id: Id) -> SpendPublic:
    """The requester's spending: funded, posted, paid, remaining, cost per accepted item."""
    return node.settlement.spend(who, task_id)


@router.get("/claims/{address}", response_model=list[ClaimPublic])
def claims(node: NodeDep, who: CurrentCaller, address: str) -> list[ClaimPublic]:
    """What ``address`` can claim per task: amount, proof, what is claimed (its owner or the operator)."""
    return node.settlement.claims(own_account(node, who, address, "claims are"))


@router.get("/statements/{address}", response_model=StatementPublic)
def statement(node: NodeDep, who: CurrentCaller, address: str) -> StatementPublic:
    """Which items and votes earned ``address`` what, per epoch (its owner or the operator only)."""
    return node.settlement.statement(own_account(node, who, address, "statements are"))
