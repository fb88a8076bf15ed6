"""The SDK's community-review calls: the validator's queue, signed votes, gold items, decisions, appeals."""

from __future__ import annotations

import json
import secrets

from datacoop.client._transport import Transport
from datacoop.identity.eip712 import AppealMessage, VoteMessage, sign_typed
from datacoop.review.schemas import (
    AppealPublic,
    GoldItemPublic,
    ReviewItem,
    ReviewStatus,
    ValidatorPublic,
    VotePublic,
)

__all__ = ["ReviewCalls"]


class ReviewCalls(Transport):
    """Community review (a part of :class:`~datacoop.client.DataCoopClient`)."""

    # --- community review -------------------------------------------------------------------

    def validator_record(self) -> ValidatorPublic:
        """Your validator record; refused (403, field ``stake``) below the node's minimum stake."""
        return self._get("/reviews/me", ValidatorPublic)

    def next_review(self) -> ReviewItem | None:
        """The next item to review (signed in as a staked validator); None when nothing waits."""
        response = self._request("GET", "/reviews/next")
        return None if response.status_code == 204 else ReviewItem.model_validate(response.json())

    def vote(
        self, item: ReviewItem, decision: str, labels: list[str] | None = None, *, nonce: int | None = None
    ) -> VotePublic:
        """Sign an EIP-712 ``Vote`` on an assigned item and send it."""
        account = self._need_account()
        chosen = list(labels or [])
        message = VoteMessage(
            validator=account.address,
            task_id=item.task.id,
            assignment_id=item.assignment_id,
            decision=decision,
            labels=json.dumps(chosen, separators=(",", ":"), ensure_ascii=False),
            nonce=nonce if nonce is not None else secrets.randbits(64),
        )
        signature = sign_typed(account.key, message.to_typed_data(self.eip712_domain()))
        body = {"decision": decision, "labels": chosen, "nonce": message.nonce, "signature": signature}
        data = self._request("POST", f"/reviews/{item.assignment_id}/vote", json=body).json()
        return VotePublic.model_validate(data)

    def add_gold(self, task_id: int, cid: str, answer: str) -> GoldItemPublic:
        """Add an uploaded blob to a task of yours as a gold item with a known answer."""
        data = self._request("POST", f"/tasks/{task_id}/gold", json={"cid": cid, "answer": answer}).json()
        return GoldItemPublic.model_validate(data)

    def review_status(self, submission_id: int) -> ReviewStatus:
        return self._get(f"/submissions/{submission_id}/review", ReviewStatus)

    def decide(self, submission_id: int, decision: str, reason: str = "") -> ReviewStatus:
        """As the task's requester, settle an item the validators escalated."""
        body = {"decision": decision, "reason": reason}
        data = self._request("POST", f"/submissions/{submission_id}/decision", json=body).json()
        return ReviewStatus.model_validate(data)

    def appeal(self, submission_id: int, reason: str, *, nonce: int | None = None) -> AppealPublic:
        """Sign an EIP-712 ``Appeal`` of your rejected submission and send it (allowed once)."""
        account = self._need_account()
        message = AppealMessage(
            contributor=account.address,
            submission_id=submission_id,
            reason=reason,
            nonce=nonce if nonce is not None else secrets.randbits(64),
        )
        signature = sign_typed(account.key, message.to_typed_data(self.eip712_domain()))
        body = {"reason": reason, "nonce": message.nonce, "signature": signature}
        data = self._request("POST", f"/submissions/{submission_id}/appeal", json=body).json()
        return AppealPublic.model_validate(data)

    def get_appeal(self, submission_id: int) -> AppealPublic:
        return self._get(f"/submissions/{submission_id}/appeal", AppealPublic)
