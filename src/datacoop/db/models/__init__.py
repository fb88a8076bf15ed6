"""SQLAlchemy models: the tables every DataCoop database has.

The migrations under ``migrations/versions`` create exactly these tables; a
test compares the two on SQLite and PostgreSQL.
"""

from datacoop.db.models._base import Base
from datacoop.db.models.audit import AuditAnchor, AuditEntry, AuditHead
from datacoop.db.models.chain import ChainLease, ChainTx
from datacoop.db.models.chain_events import ChainCursor, ChainEvent, ChainHeader
from datacoop.db.models.compute import ComputeJob, ComputeLicence, ComputePolicy, ComputeUsage, PrivacySpend
from datacoop.db.models.datasets import Dataset, DatasetItem, DatasetVersion, Withdrawal
from datacoop.db.models.exchange import Listing, Order, RoyaltyEntitlement, RoyaltyRound
from datacoop.db.models.funders import AccountFunder
from datacoop.db.models.identity import AuthNonce, AuthSession, Participant, RateLimitCounter
from datacoop.db.models.review import (
    Appeal,
    GoldItem,
    ReviewAssignment,
    ReviewOutcome,
    ReviewVote,
    SlashingProposal,
    Validator,
    ValidatorReward,
)
from datacoop.db.models.screening import ItemFeatures, Prescreen, ScreeningJob, StageResultRow
from datacoop.db.models.settlement import Earning, Epoch, EpochEntitlement, TaskFunding
from datacoop.db.models.tasks import Blob, Submission, SubmissionEvent, Task
from datacoop.db.models.webhooks import WebhookAttempt, WebhookDelivery, WebhookEvent, WebhookSubscription

__all__ = [
    "AccountFunder",
    "Appeal",
    "AuditAnchor",
    "AuditEntry",
    "AuditHead",
    "AuthNonce",
    "AuthSession",
    "Base",
    "Blob",
    "ChainCursor",
    "ChainEvent",
    "ChainHeader",
    "ChainLease",
    "ChainTx",
    "ComputeJob",
    "ComputeLicence",
    "ComputePolicy",
    "ComputeUsage",
    "Dataset",
    "DatasetItem",
    "DatasetVersion",
    "Earning",
    "Epoch",
    "EpochEntitlement",
    "GoldItem",
    "ItemFeatures",
    "Listing",
    "Order",
    "Participant",
    "Prescreen",
    "PrivacySpend",
    "RateLimitCounter",
    "ReviewAssignment",
    "ReviewOutcome",
    "ReviewVote",
    "RoyaltyEntitlement",
    "RoyaltyRound",
    "ScreeningJob",
    "SlashingProposal",
    "StageResultRow",
    "Submission",
    "SubmissionEvent",
    "Task",
    "TaskFunding",
    "Validator",
    "ValidatorReward",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEvent",
    "WebhookSubscription",
    "Withdrawal",
]
