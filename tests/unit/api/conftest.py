"""Helpers for API tests: a task, and a signed submission body."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from eth_account.signers.local import LocalAccount

from datacoop.client import DataCoopClient
from datacoop.identity.eip712 import SubmissionMessage, sign_typed
from datacoop.tasks.schemas import TaskCreate

CONSENT = "I took this photo myself and agree to its use for training AI models under CC-BY-4.0."


def task_body(**override: Any) -> TaskCreate:
    fields: dict[str, Any] = {
        "title": "Photos of industrial protective masks",
        "description": "Close-up photos of N95/FFP2 masks worn or on a table, good light.",
        "modality": "image",
        "reward_per_item": 5 * 10**18,
        "target_count": 100,
        "deadline": datetime.now(UTC) + timedelta(days=30),
        "consent_text": CONSENT,
    }
    fields.update(override)
    return TaskCreate.model_validate(fields)


def signed_body(
    client: DataCoopClient, account: LocalAccount, task_id: int, cid: str, consent_hash: str, **override: Any
) -> dict[str, Any]:
    """A submission body as a wallet would make it, with any field overridden before signing."""
    fields: dict[str, Any] = {
        "contributor": account.address,
        "task_id": task_id,
        "cid": cid,
        "consent_hash": consent_hash,
        "jurisdiction": "KE",
        "nonce": 7,
        "deadline": int(datetime.now(UTC).timestamp()) + 3600,
    }
    fields.update(override)
    message = SubmissionMessage(**fields)
    signature = sign_typed(account.key, message.to_typed_data(client.eip712_domain()))
    return {
        "cid": cid,
        "consent_hash": consent_hash,
        "jurisdiction": message.jurisdiction,
        "nonce": message.nonce,
        "deadline": message.deadline,
        "signature": signature,
    }
