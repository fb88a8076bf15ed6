"""Personal data in text: emails, phone numbers and ID numbers, found by presidio's pattern recognizers.

Only presidio's pattern recognizers run (``NoOpNlpEngine``): no spaCy model is needed
or downloaded, and a text costs a few milliseconds. Presidio's e-mail recognizer checks
domains with ``tldextract``, which fetches the public-suffix list over the network by
default; here it is replaced by one that reads the list shipped inside ``tldextract``.

Presidio is imported on the first text, not with this module: where ``transformers`` is
installed (for the relevance models) ``import presidio_analyzer`` pulls in torch, about
400 MiB and 5 s, which a node screening only images must not pay at start-up.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from presidio_analyzer import AnalyzerEngine, EntityRecognizer

__all__ = ["ENTITY_NAMES", "Span", "find_pii", "redact"]

# What is looked for, and how a reason names it. Driver-licence and passport patterns are left
# out: without an NLP context they match any 9-digit number.
ENTITY_NAMES = {  # entity: (one, several)
    "EMAIL_ADDRESS": ("email address", "email addresses"),
    "PHONE_NUMBER": ("phone number", "phone numbers"),
    "US_SSN": ("US social security number", "US social security numbers"),
    "US_ITIN": ("US taxpayer ID number", "US taxpayer ID numbers"),
    "UK_NHS": ("UK NHS number", "UK NHS numbers"),
    "IBAN_CODE": ("IBAN bank account number", "IBAN bank account numbers"),
    "CREDIT_CARD": ("payment card number", "payment card numbers"),
}


@dataclass(frozen=True)
class Span:
    entity: str
    start: int
    end: int
    score: float


def _offline_email_recognizer() -> EntityRecognizer:
    import tldextract
    from presidio_analyzer.predefined_recognizers import EmailRecognizer

    class OfflineEmailRecognizer(EmailRecognizer):
        """Presidio's e-mail patterns, with domains checked against the bundled suffix list only."""

        def __init__(self) -> None:
            super().__init__()
            self._domains = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

        def validate_result(self, pattern_text: str) -> bool:
            return self._domains(pattern_text).fqdn != ""

    return OfflineEmailRecognizer()


@functools.cache
def _analyzer() -> AnalyzerEngine:
    # Built once per process (about a second): it holds compiled patterns only, no per-call state.
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NoOpNlpEngine

    engine = AnalyzerEngine(nlp_engine=NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}]))
    engine.registry.remove_recognizer("EmailRecognizer")
    engine.registry.add_recognizer(_offline_email_recognizer())
    return engine


def find_pii(text: str, *, threshold: float = 0.4) -> list[Span]:
    """Spans of personal data in ``text`` scoring at least ``threshold`` (0–1), in reading order."""
    found = _analyzer().analyze(text, language="en", entities=list(ENTITY_NAMES), score_threshold=threshold)
    spans = [Span(r.entity_type, r.start, r.end, float(r.score)) for r in found]
    return sorted(spans, key=lambda s: (s.start, -s.end))


def redact(text: str, spans: list[Span]) -> str:
    """``text`` with every span replaced by its entity type in brackets (``[EMAIL_ADDRESS]``)."""
    pieces, cursor = [], 0
    for span in spans:
        if span.start < cursor:
            continue  # overlaps a span already replaced
        pieces += [text[cursor : span.start], f"[{span.entity}]"]
        cursor = span.end
    pieces.append(text[cursor:])
    return "".join(pieces)
