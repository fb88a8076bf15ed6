"""Every jurisdiction pair of the default policy: the decision, the rule that gives it, and what it cites."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from datacoop.compliance import (
    Buyer,
    ConsentScope,
    DataCategory,
    Exporter,
    Item,
    Outcome,
    Policy,
    PolicyEngine,
    load_policy,
)
from datacoop.compliance._loader import DEFAULT_POLICY

NP, P, S, IMP = (
    DataCategory.NON_PERSONAL,
    DataCategory.PERSONAL,
    DataCategory.SENSITIVE_PERSONAL,
    DataCategory.IMPORTANT_DATA,
)
NONE, GENERAL, EXPLICIT, SEPARATE = list(ConsentScope)
ALLOW, ANON, C2D, DENY = list(Outcome)
PIPIA = ("pipia",)


@dataclass(frozen=True)
class Case:
    name: str
    origin: str
    category: DataCategory
    consent: ConsentScope
    buyer: str
    safeguards: tuple[str, ...]
    outcome: Outcome
    rule: str
    cites: str
    exporter: Exporter = Exporter()  # noqa: RUF009 (frozen: one shared default is safe)
    notified: bool = False


CASES = [
    # EU/EEA: GDPR Chapter V
    Case("EU non-personal to anywhere", "FR", NP, NONE, "CN", (), ALLOW, "eu.non_personal", "GDPR Art. 2(1)"),
    Case("EU 'important data' is not a GDPR notion", "DE", IMP, NONE, "RU", (), ALLOW, "eu.non_personal",
         "44"),
    Case("EU personal, no consent", "FR", P, NONE, "JP", (), ANON, "eu.no_consent", "Art. 6(1)(a)"),
    Case("EU sensitive, general consent", "IT", S, GENERAL, "JP", (), ANON,
         "eu.sensitive_needs_explicit_consent", "9(2)(a)"),
    Case("EU within the EEA (FR to NO)", "FR", P, GENERAL, "NO", (), ALLOW, "eu.within_eea", "Art. 1(3)"),
    Case("Norway origin is EEA", "NO", P, GENERAL, "SE", (), ALLOW, "eu.within_eea", "Art. 1(3)"),
    Case("EU to adequate Japan", "DE", P, GENERAL, "JP", (), ALLOW, "eu.adequacy", "GDPR Art. 45(1)"),
    Case("EU to adequate UK, sensitive with explicit consent", "ES", S, EXPLICIT, "GB", (), ALLOW,
         "eu.adequacy", "Art. 45(1)"),
    Case("EU to US, DPF-certified recipient", "FR", P, GENERAL, "US", ("dpf_certified",), ALLOW,
         "eu.adequacy.us_dpf", "2023/1795"),
    Case("EU to non-adequate US with SCC", "FR", P, GENERAL, "US", ("scc",), ALLOW,
         "eu.appropriate_safeguards", "Art. 46"),
    Case("EU to non-adequate India with BCR", "NL", P, GENERAL, "IN", ("bcr",), ALLOW,
         "eu.appropriate_safeguards", "47"),
    Case("EU to non-adequate, no safeguards", "DE", P, GENERAL, "CN", (), C2D, "eu.no_transfer_tool",
         "49(1)"),
    Case("EU to US, explicit consent only: Art. 49 is not for bulk sales", "FR", P, EXPLICIT, "US", (),
         C2D, "eu.no_transfer_tool", "EDPB Guidelines 2/2018"),
    Case("EU to US, CN safeguards do not count", "FR", P, SEPARATE, "US", ("cac_standard_contract",), C2D,
         "eu.no_transfer_tool", "Art. 44"),
    # China: PIPL and the 2024 Provisions, volumes since 1 January
    Case("CN non-personal", "CN", NP, NONE, "US", (), ALLOW, "cn.non_personal", "PIPL Art. 4"),
    Case("CN personal, general consent is not separate", "CN", P, GENERAL, "US", PIPIA, ANON,
         "cn.no_separate_consent", "PIPL Art. 39"),
    Case("CN personal, GDPR-style explicit consent is not separate", "CN", P, EXPLICIT, "US", PIPIA, ANON,
         "cn.no_separate_consent", "Art. 39"),
    Case("CN personal, no impact assessment", "CN", P, SEPARATE, "US", (), C2D, "cn.no_impact_assessment",
         "PIPL Art. 55"),
    Case("CN below 100k: exempt", "CN", P, SEPARATE, "US", PIPIA, ALLOW, "cn.personal.exempt",
         "2024 Provisions Art. 5", Exporter(personal_individuals=99_999)),
    Case("CN at 100k without a standard contract", "CN", P, SEPARATE, "US", PIPIA, C2D,
         "cn.personal.needs_contract", "Art. 8", Exporter(personal_individuals=100_000)),
    Case("CN within 100k-1M with the standard contract", "CN", P, SEPARATE, "DE",
         ("pipia", "cac_standard_contract"), ALLOW, "cn.personal.contract", "2024 Provisions Art. 8",
         Exporter(personal_individuals=500_000)),
    Case("CN within 100k-1M with certification", "CN", P, SEPARATE, "DE", ("pipia", "cac_certification"),
         ALLOW, "cn.personal.contract", "38(1)(ii)", Exporter(personal_individuals=999_999)),
    Case("CN at 1M: a contract is no longer enough", "CN", P, SEPARATE, "US",
         ("pipia", "cac_standard_contract"), C2D, "cn.personal.needs_assessment", "2024 Provisions Art. 7",
         Exporter(personal_individuals=1_000_000)),
    Case("CN above 1M with a security assessment", "CN", P, SEPARATE, "US",
         ("pipia", "cac_security_assessment"), ALLOW, "cn.personal.assessment", "Art. 7",
         Exporter(personal_individuals=2_500_000)),
    Case("CN sensitive, under 10k, no contract", "CN", S, SEPARATE, "US", PIPIA, C2D,
         "cn.sensitive.needs_contract", "Art. 8", Exporter(sensitive_individuals=50)),
    Case("CN sensitive, under 10k, standard contract", "CN", S, SEPARATE, "US",
         ("pipia", "cac_standard_contract"), ALLOW, "cn.sensitive.contract", "Art. 8",
         Exporter(sensitive_individuals=9_999)),
    Case("CN sensitive, 10k: a contract is no longer enough", "CN", S, SEPARATE, "US",
         ("pipia", "cac_standard_contract"), C2D, "cn.sensitive.needs_assessment", "Art. 7",
         Exporter(sensitive_individuals=10_000)),
    Case("CN sensitive, above 10k, security assessment", "CN", S, SEPARATE, "US",
         ("pipia", "cac_security_assessment"), ALLOW, "cn.sensitive.assessment", "Art. 7",
         Exporter(sensitive_individuals=20_000)),
    Case("CN CIIO, small volume, no assessment: localise", "CN", P, SEPARATE, "US",
         ("pipia", "cac_standard_contract"), C2D, "cn.ciio.localise", "PIPL Art. 40",
         Exporter(ciio=True, personal_individuals=10)),
    Case("CN CIIO with a security assessment", "CN", S, SEPARATE, "US", ("pipia", "cac_security_assessment"),
         ALLOW, "cn.ciio.assessed", "40", Exporter(ciio=True, sensitive_individuals=10)),
    Case("CN important data, notified, no assessment", "CN", IMP, NONE, "US", (), C2D,
         "cn.important_data.needs_assessment", "Art. 2", notified=True),
    Case("CN important data, notified, assessed", "CN", IMP, NONE, "US", ("cac_security_assessment",), ALLOW,
         "cn.important_data.assessed", "Art. 31", notified=True),
    Case("CN important data, never notified", "CN", IMP, NONE, "US", (), ALLOW,
         "cn.important_data.not_notified", "2024 Provisions Art. 2"),
    # India: DPDP Act 2023 s.16 (negative list, empty by default)
    Case("IN non-personal", "IN", NP, NONE, "CN", (), ALLOW, "in.non_personal", "s.3"),
    Case("IN personal, no consent", "IN", P, NONE, "US", (), ANON, "in.no_consent", "s.6"),
    Case("IN to unrestricted US", "IN", P, GENERAL, "US", (), ALLOW, "in.transfer_allowed", "s.16(1)"),
    Case("IN to Pakistan: nothing notified yet", "IN", S, GENERAL, "PK", (), ALLOW, "in.transfer_allowed",
         "s.16"),
    # everywhere else: permissive, but personal data needs consent
    Case("KE personal, consented, to US", "KE", P, GENERAL, "US", (), ALLOW, "default.consented", "default"),
    Case("BR sensitive, consented, to CN", "BR", S, EXPLICIT, "CN", (), ALLOW, "default.consented",
         "consent"),
    Case("US personal, no consent", "US", P, NONE, "DE", (), ANON, "default.no_consent", "consent"),
    Case("JP non-personal", "JP", NP, NONE, "KP", (), ALLOW, "default.non_personal", "default"),
]  # fmt: skip


def _decide(engine: PolicyEngine, c: Case) -> Any:
    item = Item(c.name, c.origin, c.category, c.consent, c.notified)
    return engine.decide(item, Buyer(c.buyer, safeguards=frozenset(c.safeguards)), c.exporter)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_default_policy_decides_the_pair(engine: PolicyEngine, case: Case) -> None:
    decision = _decide(engine, case)
    assert (decision.outcome, decision.rule) == (case.outcome, case.rule)
    assert case.cites in decision.legal_basis
    assert decision.explanation and decision.policy_version == engine.policy.version


def _with_restricted(countries: list[str]) -> PolicyEngine:
    from importlib import resources

    text = resources.files("datacoop.compliance").joinpath("policies", DEFAULT_POLICY).read_text("utf-8")
    data = yaml.safe_load(text)
    data["groups"]["IN_RESTRICTED"]["members"] = countries
    return PolicyEngine(Policy.model_validate(data))


def test_india_restricted_country_is_compute_to_data_only() -> None:
    # Prepare: a variant of the default naming one notified country
    engine = _with_restricted(["PK"])
    item = Item("x", "IN", P, GENERAL)
    # Execute
    to_pk, to_us = engine.decide(item, Buyer("PK")), engine.decide(item, Buyer("US"))
    # Assert
    assert (to_pk.outcome, to_pk.rule) == (C2D, "in.restricted_country")
    assert "s.16(1)" in to_pk.legal_basis
    assert (to_us.outcome, to_us.rule) == (ALLOW, "in.transfer_allowed")
    assert engine.decide(Item("y", "IN", NP), Buyer("PK")).outcome is ALLOW  # non-personal is not restricted


def test_every_default_rule_is_exercised_by_the_table(engine: PolicyEngine) -> None:
    covered = {c.rule for c in CASES} | {"in.restricted_country"}
    assert covered == {r.id for r in engine.policy.rules}


def test_default_policy_says_what_it_encodes_and_when_it_was_reviewed(engine: PolicyEngine) -> None:
    policy = load_policy()
    assert policy.version and policy.reviewed.year >= 2026
    assert any("PIPL" in e for e in policy.encodes) and any(
        "Data Protection Act 2023" in e for e in policy.encodes
    )
    assert policy.groups["EU_ADEQUATE"].as_of is not None
    assert "US" not in policy.groups["EU_ADEQUATE"].members  # the DPF covers certified recipients only
    assert len(policy.groups["EEA"].members) == 30 and "NO" in policy.groups["EEA"].members
    assert policy.groups["IN_RESTRICTED"].members == []
