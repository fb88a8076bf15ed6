"""Settlement: funding a task's escrow, epochs, claims and statements."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, ConfigDict, Field

from datacoop.api.deps import CallerIsOperator, CurrentCaller, Operator, SettlementDep, own_address
from datacoop.api.openapi import NOTHING_NEW
from datacoop.api.params import PAGED, After, Id, Page, page_by, page_of
from datacoop.settlement.schemas import (
    ClaimPublic,
    ClaimRelayCreate,
    ClaimRelayPublic,
    EpochPublic,
    FundingPublic,
    SpendPublic,
    StatementPublic,
)

router = APIRouter(tags=["settlement"])


class EscrowLink(BaseModel):
    model_config = ConfigDict(extra="forbid")
    escrow_task_id: int = Field(ge=1, lt=2**256, description="the TaskEscrow task id returned by openTask")


@router.post("/tasks/{task_id}/escrow", response_model=FundingPublic, status_code=status.HTTP_201_CREATED)
def link_escrow(
    settlement: SettlementDep, who: CurrentCaller, task_id: Id, body: EscrowLink
) -> FundingPublic:
    """Tie the task to the escrow task its requester opened and funded on chain."""
    return settlement.link_escrow(who, task_id, body.escrow_task_id)


@router.post(
    "/tasks/{task_id}/epochs",
    status_code=status.HTTP_201_CREATED,
    response_model=EpochPublic,
    responses={204: NOTHING_NEW},
)
def close_epoch(settlement: SettlementDep, _operator: Operator, task_id: Id) -> EpochPublic | Response:
    """Close the task's next epoch now (operator only); 204 when nothing new is owed."""
    view = settlement.close_epoch(task_id)
    if view is None:
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    return view.public()


@router.get("/tasks/{task_id}/epochs", response_model=list[EpochPublic], responses=PAGED)
def list_epochs(
    settlement: SettlementDep, response: Response, task_id: Id, after: After = None, limit: Page = 100
) -> list[EpochPublic]:
    """The task's epochs, failed ones included, oldest first, a page at a time (X-Next-Cursor: the next)."""
    rows = settlement.epochs(task_id, after=after, limit=limit + 1)
    return [e.public() for e in page_of(response, rows, limit)]


@router.get("/tasks/{task_id}/spend", response_model=SpendPublic)
def spend(settlement: SettlementDep, who: CurrentCaller, task_id: Id) -> SpendPublic:
    """The requester's spending: funded, posted, paid, remaining, cost per accepted item."""
    return settlement.spend(who, task_id)


@router.get("/claims/{address}", response_model=list[ClaimPublic], responses=PAGED)
def claims(
    settlement: SettlementDep, who: CurrentCaller, operator: CallerIsOperator, response: Response,
    address: str, after: After = None, limit: Page = 100,
) -> list[ClaimPublic]:  # fmt: skip
    """What ``address`` can claim per task: amount, proof, what is claimed (its owner or the operator);
    by task id, a page at a time (X-Next-Cursor: the next ``after``, a task id)."""
    account = own_address(who, address, "claims are", operator=operator)
    return page_by(
        response, settlement.claims(account, after=after, limit=limit + 1), limit, lambda c: c.task_id
    )


@router.post("/claims/{task_id}/relay", response_model=ClaimRelayPublic, status_code=status.HTTP_202_ACCEPTED)
def relay_claim(settlement: SettlementDep, task_id: Id, body: ClaimRelayCreate) -> ClaimRelayPublic:
    """Relay a contributor's signed claim (gasless: the node pays the gas, the signed fee pays the node).

    No session needed: the contributor's EIP-712 signature is the credential."""
    return settlement.relay_claim_request(task_id, body)


@router.get("/statements/{address}", response_model=StatementPublic)
def statement(
    settlement: SettlementDep, who: CurrentCaller, operator: CallerIsOperator, address: str
) -> StatementPublic:
    """Which items and votes earned ``address`` what, per epoch (its owner or the operator only)."""
    return settlement.statement(own_address(who, address, "statements are", operator=operator))
