"""Community review: validators' queue and votes, gold items, escalated decisions, appeals."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from fastapi.responses import StreamingResponse

from datacoop.api.deps import CallerIsOperator, CurrentCaller, NodeDep, Operator, ReviewDep
from datacoop.api.openapi import binary
from datacoop.api.params import PAGED, After, Id, Page, page_of
from datacoop.api.streaming import stream_blob
from datacoop.review.schemas import (
    AppealCreate,
    AppealPublic,
    GoldItemCreate,
    GoldItemPublic,
    RequesterDecision,
    ReviewItem,
    ReviewStatus,
    ValidatorPublic,
    VoteCreate,
    VotePublic,
)
from datacoop.review.slashing import SlashingPublic

router = APIRouter(tags=["reviews"])


@router.get("/reviews/me", response_model=ValidatorPublic)
def me(review: ReviewDep, who: CurrentCaller) -> ValidatorPublic:
    """Your validator record (checks your stake; 403 below the node's minimum)."""
    return review.enrol(who)


@router.get(
    "/reviews/next",
    response_model=ReviewItem,
    responses={204: {"description": "nothing is waiting for you now; ask again later"}},
)
def next_item(review: ReviewDep, who: CurrentCaller) -> ReviewItem | Response:
    """Your next item to review with its task and pre-screen report; 204 when there is none."""
    item = review.next_for(who)
    return item if item is not None else Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/reviews/{assignment_id}/content",
    response_class=StreamingResponse,
    responses={200: binary("application/octet-stream", description="the assigned item's bytes")},
)
def item_content(node: NodeDep, who: CurrentCaller, assignment_id: Id) -> StreamingResponse:
    """The bytes of an item assigned to you."""
    return stream_blob(node.store, node.review.content(who, assignment_id))


@router.post("/reviews/{assignment_id}/vote", response_model=VotePublic, status_code=status.HTTP_201_CREATED)
def vote(review: ReviewDep, who: CurrentCaller, assignment_id: Id, body: VoteCreate) -> VotePublic:
    """Vote on an item assigned to you with an EIP-712 ``Vote`` (see GET /v1/eip712)."""
    return review.vote(who, assignment_id, body)


@router.post("/tasks/{task_id}/gold", response_model=GoldItemPublic, status_code=status.HTTP_201_CREATED)
def add_gold(review: ReviewDep, who: CurrentCaller, task_id: Id, body: GoldItemCreate) -> GoldItemPublic:
    """Add an item with a known answer to your task; validators cannot tell it from a real one."""
    return review.add_gold(who, task_id, body)


@router.get("/tasks/{task_id}/gold", response_model=list[GoldItemPublic], responses=PAGED)
def list_gold(
    review: ReviewDep, who: CurrentCaller, response: Response, task_id: Id, after: After = None,
    limit: Page = 100,
) -> list[GoldItemPublic]:  # fmt: skip
    """The task's gold items (its requester only), oldest first, a page at a time (X-Next-Cursor names
    the next)."""
    return page_of(response, review.list_gold(who, task_id, after=after, limit=limit + 1), limit)


@router.get("/submissions/{submission_id}/review", response_model=ReviewStatus)
def review_status(
    review: ReviewDep, who: CurrentCaller, operator: CallerIsOperator, submission_id: Id
) -> ReviewStatus:
    """Where the community review of a submission stands (the same parties as the submission)."""
    return review.status(submission_id, who, operator=operator)


@router.post("/submissions/{submission_id}/decision", response_model=ReviewStatus)
def decide(review: ReviewDep, who: CurrentCaller, submission_id: Id, body: RequesterDecision) -> ReviewStatus:
    """The task's requester settles an item the validators could not."""
    return review.decide(who, submission_id, body)


@router.post(
    "/submissions/{submission_id}/appeal", response_model=AppealPublic, status_code=status.HTTP_201_CREATED
)
def appeal(review: ReviewDep, who: CurrentCaller, submission_id: Id, body: AppealCreate) -> AppealPublic:
    """Appeal the rejection of your submission, once, with an EIP-712 ``Appeal``."""
    return review.appeal(who, submission_id, body)


@router.get("/submissions/{submission_id}/appeal", response_model=AppealPublic)
def get_appeal(
    review: ReviewDep, who: CurrentCaller, operator: CallerIsOperator, submission_id: Id
) -> AppealPublic:
    """The appeal (the same parties as the submission); the jurors are named once it is final."""
    return review.get_appeal(submission_id, who, operator=operator)


@router.get("/reviews/slashing", response_model=list[SlashingPublic], responses=PAGED)
def slashing_proposals(
    review: ReviewDep, _operator: Operator, response: Response, after: After = None, limit: Page = 100
) -> list[SlashingPublic]:
    """Recorded slashing proposals and where their execution stands (operator only), oldest first, a page
    at a time (X-Next-Cursor names the next)."""
    return page_of(response, review.slashing.list(after=after, limit=limit + 1), limit)


@router.post("/reviews/slashing/{proposal_id}/execute", response_model=SlashingPublic)
def execute_slashing(review: ReviewDep, _operator: Operator, proposal_id: Id) -> SlashingPublic:
    """Slash on chain through the outbox (operator only); the relay sends and confirms it."""
    return review.slashing.execute(proposal_id)
