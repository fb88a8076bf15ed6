"""What a compliance decision is made from (an item, a buyer, the exporter) and what it answers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

from datacoop.errors import InvalidInput, did_you_mean
from datacoop.identity.addresses import normalize_jurisdiction

__all__ = [
    "Buyer",
    "ConsentScope",
    "DataCategory",
    "Decision",
    "Exporter",
    "Item",
    "Outcome",
    "Safeguard",
    "most_restrictive",
    "parse_enum",
]


class Outcome(StrEnum):
    """What a buyer may receive, from most to least permissive."""

    ALLOW = "allow"
    ALLOW_ANONYMISED = "allow_anonymised"  # deliverable once anonymised: no longer personal data
    COMPUTE_TO_DATA_ONLY = "compute_to_data_only"  # may be processed where it is, never exported
    DENY = "deny"

    @property
    def rank(self) -> int:
        return list(Outcome).index(self)


class DataCategory(StrEnum):
    NON_PERSONAL = "non_personal"
    PERSONAL = "personal"
    SENSITIVE_PERSONAL = "sensitive_personal"  # GDPR Art. 9 special categories; PIPL Art. 28 sensitive PI
    IMPORTANT_DATA = "important_data"  # China DSL/2024 Provisions "important data"


class ConsentScope(StrEnum):
    NONE = "none"
    GENERAL = "general"  # consent to the processing, nothing said about transfers abroad
    EXPLICIT_TRANSFER = "explicit_transfer"  # GDPR Art. 49(1)(a): explicit, informed of the risks
    SEPARATE = "separate"  # PIPL Art. 39: separate consent to the cross-border provision


class Safeguard(StrEnum):
    """Transfer tools the buyer or the exporter has in place."""

    SCC = "scc"  # GDPR Art. 46(2)(c) standard contractual clauses
    BCR = "bcr"  # GDPR Art. 46(2)(b), 47 binding corporate rules
    CODE_OF_CONDUCT = "code_of_conduct"  # GDPR Art. 46(2)(e)
    CERTIFICATION = "certification"  # GDPR Art. 46(2)(f)
    DPF_CERTIFIED = "dpf_certified"  # recipient certified under the EU–US Data Privacy Framework
    CAC_STANDARD_CONTRACT = "cac_standard_contract"  # PIPL Art. 38(1)(iii), filed with the provincial CAC
    CAC_CERTIFICATION = "cac_certification"  # PIPL Art. 38(1)(ii)
    CAC_SECURITY_ASSESSMENT = "cac_security_assessment"  # PIPL Art. 38(1)(i), 40
    PIPIA = "pipia"  # PIPL Art. 55 personal information protection impact assessment


@dataclass(frozen=True)
class Item:
    """One item's facts: where it comes from, what it is and what its contributor agreed to.

    Args:
        key: the caller's name for the item (an id or CID); only carried through to the answer.
        origin: ISO 3166-1 alpha-2 code of the jurisdiction the data comes from.
    """

    key: str
    origin: str
    category: DataCategory
    consent: ConsentScope = ConsentScope.NONE
    important_data_notified: bool = False  # only important data identified by notice/publication counts

    def __post_init__(self) -> None:
        object.__setattr__(self, "origin", normalize_jurisdiction(self.origin, field="origin"))
        object.__setattr__(self, "category", parse_enum(DataCategory, self.category, "category"))
        object.__setattr__(self, "consent", parse_enum(ConsentScope, self.consent, "consent"))


@dataclass(frozen=True)
class Buyer:
    """Who receives the data, for what, and with which safeguards in place."""

    jurisdiction: str
    purpose: str = "training"
    safeguards: frozenset[Safeguard] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        object.__setattr__(self, "jurisdiction", normalize_jurisdiction(self.jurisdiction, field="buyer"))
        if not self.purpose.strip():
            raise InvalidInput("purpose must not be empty", field="purpose")
        object.__setattr__(self, "purpose", self.purpose.strip().lower())
        guards = frozenset(parse_enum(Safeguard, s, "safeguards") for s in self.safeguards)
        object.__setattr__(self, "safeguards", guards)


@dataclass(frozen=True)
class Exporter:
    """The exporting processor's standing (PIPL counts individuals cumulatively since 1 January).

    Args:
        ciio: a critical information infrastructure operator (PIPL Art. 40).
        personal_individuals: individuals whose non-sensitive personal information was exported since
            1 January of this year, this transfer included.
        sensitive_individuals: the same for sensitive personal information.
    """

    ciio: bool = False
    personal_individuals: int = 0
    sensitive_individuals: int = 0

    def __post_init__(self) -> None:
        for name in ("personal_individuals", "sensitive_individuals"):
            if getattr(self, name) < 0:
                raise InvalidInput(f"{name} must be 0 or more", field=name, limit=0)


@dataclass(frozen=True)
class Decision:
    """The answer for one item: the outcome, the rule that gave it, why, and under which law."""

    outcome: Outcome
    rule: str
    explanation: str
    legal_basis: str
    policy_version: str


def most_restrictive(decisions: Iterable[Decision]) -> Decision | None:
    """The decision with the most restrictive outcome (the first such), or None for no decisions."""
    return max(decisions, key=lambda d: d.outcome.rank, default=None)


E = TypeVar("E", bound=StrEnum)


def parse_enum(cls: type[E], value: object, name: str) -> E:
    """``cls(value)``, or InvalidInput naming ``name``, the allowed values and the closest one."""
    try:
        return cls(str(value))
    except ValueError:
        allowed = ", ".join(m.value for m in cls)
        hint = did_you_mean(str(value), [m.value for m in cls])
        raise InvalidInput(f"{name} {value!r} is not one of: {allowed}.{hint}", field=name) from None
