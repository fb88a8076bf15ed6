"""The policy file's shape: groups of jurisdictions and an ordered list of rules (pydantic, strict).

A rule's ``when`` holds conditions that must all be true for the rule to match;
a condition left out matches anything. The engine takes the first rule that
matches (see ``docs/compliance.md``).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pycountry
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from datacoop.compliance._facts import ConsentScope, DataCategory, Outcome, Safeguard

__all__ = ["ANY", "Conditions", "Group", "Policy", "Range", "Rule"]

ANY = "*"
GROUP_NAME = re.compile(r"^[A-Z][A-Z0-9_]{2,63}$")  # never two letters: those are country codes


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _country_or_group(value: Any) -> Any:
    if isinstance(value, bool):  # YAML 1.1 reads an unquoted NO (Norway) as false
        raise ValueError(f"got {value!r}, not a code: quote country codes such as 'NO' in YAML")
    return value


def _codes(values: Any) -> Any:
    return [_country_or_group(v) for v in values] if isinstance(values, list) else values


class Range(_Strict):
    """A count of individuals: ``at_least`` ≤ n < ``below`` (either bound may be left out)."""

    at_least: int | None = Field(default=None, ge=0)
    below: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _bounds(self) -> Range:
        if self.at_least is None and self.below is None:
            raise ValueError("give at_least, below or both")
        if self.at_least is not None and self.below is not None and self.at_least >= self.below:
            raise ValueError(f"at_least ({self.at_least}) must be smaller than below ({self.below})")
        return self

    def contains(self, n: int) -> bool:
        return (self.at_least is None or n >= self.at_least) and (self.below is None or n < self.below)


class Conditions(_Strict):
    """All must hold for a rule to match; one left out matches anything."""

    origin: list[str] | None = None  # country codes, group names or "*"
    destination: list[str] | None = None
    destination_not: list[str] | None = None
    category: list[DataCategory] | None = None
    consent: list[ConsentScope] | None = None
    purpose: list[str] | None = None
    safeguards_any: list[Safeguard] | None = None  # at least one of these is in place
    safeguards_none: list[Safeguard] | None = None  # none of these is in place
    exporter_ciio: bool | None = None
    important_data_notified: bool | None = None
    personal_individuals: Range | None = None  # cumulative since 1 January, this transfer included
    sensitive_individuals: Range | None = None

    @field_validator("origin", "destination", "destination_not", mode="before")
    @classmethod
    def _no_booleans(cls, values: Any) -> Any:
        return _codes(values)

    @field_validator("purpose")
    @classmethod
    def _lower(cls, purposes: list[str] | None) -> list[str] | None:
        return None if purposes is None else [p.strip().lower() for p in purposes]

    def places(self) -> list[tuple[str, str]]:
        """Every (field, code or group) this rule names, for the policy's reference check."""
        named = {"origin": self.origin, "destination": self.destination}
        named["destination_not"] = self.destination_not
        return [(f, v) for f, values in named.items() for v in values or ()]


class Rule(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,99}$")
    when: Conditions = Conditions()
    decision: Outcome
    explanation: str = Field(min_length=1)
    legal_basis: str = Field(min_length=1)
    source: str | None = None


class Group(_Strict):
    """A named set of jurisdictions (EEA membership, an adequacy list), with where it comes from."""

    description: str = ""
    as_of: date | None = None
    source: str | None = None
    members: list[str]

    @field_validator("members", mode="before")
    @classmethod
    def _no_booleans(cls, values: Any) -> Any:
        return _codes(values)

    @field_validator("members")
    @classmethod
    def _iso(cls, members: list[str]) -> list[str]:
        for code in members:
            _check_country(code)
        return members


class Policy(_Strict):
    """A whole policy: which rules it encodes (``version``), when they were last reviewed, groups, rules."""

    version: str = Field(min_length=1)
    reviewed: date
    encodes: list[str] = Field(default_factory=list)  # the legal texts, with their versions
    description: str = ""
    groups: dict[str, Group] = Field(default_factory=dict)
    rules: list[Rule] = Field(min_length=1)

    @field_validator("groups")
    @classmethod
    def _group_names(cls, groups: dict[str, Group]) -> dict[str, Group]:
        for name in groups:
            if not GROUP_NAME.match(name):
                raise ValueError(
                    f"group name {name!r} must be 3–64 capitals, digits or _ (two letters is a country code)"
                )
        return groups

    @model_validator(mode="after")
    def _references(self) -> Policy:
        seen: set[str] = set()
        for i, rule in enumerate(self.rules):
            if rule.id in seen:
                raise ValueError(f"rules[{i}]: rule id {rule.id!r} is used twice")
            seen.add(rule.id)
            for field, ref in rule.when.places():
                if ref == ANY or ref in self.groups:
                    continue
                try:
                    _check_country(ref)
                except ValueError as exc:
                    raise ValueError(f"rules[{i}] ({rule.id}).when.{field}: {exc} nor a group") from None
        return self


def _check_country(code: str) -> None:
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        raise ValueError(f"{code!r} is not an ISO 3166-1 alpha-2 country code")
