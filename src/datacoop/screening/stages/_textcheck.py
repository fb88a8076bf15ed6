"""Cheap text sense checks: enough words, mostly letters, not one phrase repeated, not keyboard mash.

The language guess counts common function words of a few languages and names the
dominant script otherwise; it is a hint for review, never a reason to reject. A task
that sets ``language`` (an ISO 639-1 code) sends text that looks like another
language to review.

Settings (``rules.stages.quality``): ``min_words`` (3), ``min_letter_share`` (0.4),
``repeat_fail`` (0.02) / ``repeat_review`` (0.1): compressed size over raw size of texts
of 200 bytes or more, ``language`` (none).
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections import Counter
from collections.abc import Mapping
from typing import Any

from datacoop.screening.base import Verdict
from datacoop.screening.stages._findings import Finding, setting

__all__ = ["check_text", "guess_language"]

_WORD = re.compile(r"[^\W\d_]+")
_VOWELS = frozenset("aeiouyàáâãäåæèéêëìíîïòóôõöøùúûüýÿœ")


def _words(spaced: str) -> frozenset[str]:
    return frozenset(spaced.split())


_STOPWORDS: dict[str, frozenset[str]] = {
    "en": _words("the and of to is in that it was for with this are on you not be have"),
    "de": _words("der die und das ist nicht ein eine zu mit den sich auf ich es auch"),
    "fr": _words("le les et est des une pas que du dans pour qui sur je il ne au"),
    "es": _words("el los las y es que en una por con no para se lo del como"),
    "it": _words("il di che è non per sono con della gli le nel una anche"),
    "pt": _words("o os e é que não um uma para com do da em se os mais"),
    "nl": _words("de het een en is van niet dat op te zijn ik met voor die"),
}
_NAMES = {"en": "English", "de": "German", "fr": "French", "es": "Spanish", "it": "Italian",
          "pt": "Portuguese", "nl": "Dutch", "ru": "Russian", "uk": "Ukrainian", "el": "Greek",
          "ar": "Arabic", "he": "Hebrew", "hi": "Hindi", "zh": "Chinese", "ja": "Japanese",
          "ko": "Korean"}  # fmt: skip
_SCRIPTS = {"ru": "CYRILLIC", "uk": "CYRILLIC", "el": "GREEK", "ar": "ARABIC", "he": "HEBREW",
            "hi": "DEVANAGARI", "zh": "CJK", "ja": "CJK", "ko": "HANGUL"}  # fmt: skip


def script_of(text: str) -> str:
    """The Unicode script most letters of ``text`` belong to (``"LATIN"``, ``"CYRILLIC"`` …)."""
    counts = Counter(unicodedata.name(ch, "UNKNOWN").split(" ")[0] for ch in text[:5000] if ch.isalpha())
    script = counts.most_common(1)[0][0] if counts else "NONE"
    return "CJK" if script in ("HIRAGANA", "KATAKANA") else script


def guess_language(words: list[str]) -> str | None:
    """The language whose common words are most frequent in ``words``, if they make up 10% or more."""
    lowered = [w.lower() for w in words]
    hits = {lang: sum(w in common for w in lowered) for lang, common in _STOPWORDS.items()}
    best = max(hits, key=hits.__getitem__)
    return best if lowered and hits[best] / len(lowered) >= 0.1 else None


def check_text(text: str, params: Mapping[str, Any]) -> tuple[list[Finding], dict[str, Any]]:
    """The text's findings and the measurements behind them."""
    words = _WORD.findall(text)
    visible = [ch for ch in text if not ch.isspace()]
    letter_share = sum(ch.isalpha() for ch in visible) / len(visible) if visible else 0.0
    script = script_of(text)
    language = guess_language(words) if script == "LATIN" else None
    details: dict[str, Any] = {
        "chars": len(text.strip()), "words": len(words), "letter_share": round(letter_share, 3),
        "script": script, "language": language,
    }  # fmt: skip
    findings = [_length(words, params), _letters(letter_share, params), _repetition(text, params, details)]
    findings += [_mash(words), _language(params.get("language"), language, script)]
    return findings, details


def _length(words: list[str], params: Mapping[str, Any]) -> Finding:
    minimum = int(setting(params, "min_words", 3))
    if len(words) < minimum:
        return Finding(
            Verdict.UNSURE,
            len(words) / minimum,
            f"the text has only {len(words)} word{'' if len(words) == 1 else 's'}",
        )
    return Finding(Verdict.PASS, 1.0)


def _letters(share: float, params: Mapping[str, Any]) -> Finding:
    minimum = setting(params, "min_letter_share", 0.4)
    if share < minimum:
        return Finding(Verdict.UNSURE, share, f"the text is mostly digits or symbols ({share:.0%} letters)")
    return Finding(Verdict.PASS, 1.0)


def _repetition(text: str, params: Mapping[str, Any], details: dict[str, Any]) -> Finding:
    raw = text.encode("utf-8")
    if len(raw) < 200:
        return Finding(Verdict.PASS, 1.0)  # short texts compress poorly whatever they say
    ratio = len(zlib.compress(raw, 6)) / len(raw)
    details["compression_ratio"] = round(ratio, 4)
    fail, review = setting(params, "repeat_fail", 0.02), setting(params, "repeat_review", 0.1)
    if ratio < fail:
        return Finding(Verdict.FAIL, 0.0, "the text is the same few characters repeated over and over")
    if ratio < review:
        return Finding(Verdict.UNSURE, ratio / review, "the text repeats itself a great deal")
    return Finding(Verdict.PASS, 1.0)


def _mash(words: list[str]) -> Finding:
    latin = [w.lower() for w in words if len(w) >= 3 and w.isascii()]
    if len(latin) < 5:
        return Finding(Verdict.PASS, 1.0)
    vowelless = sum(not (_VOWELS & set(w)) for w in latin) / len(latin)
    if vowelless > 0.35:
        reason = f"the text looks like random letters ({vowelless:.0%} of words have no vowel)"
        return Finding(Verdict.UNSURE, 1 - vowelless, reason)
    return Finding(Verdict.PASS, 1.0)


def _language(expected: object, language: str | None, script: str) -> Finding:
    if not isinstance(expected, str) or not expected:
        return Finding(Verdict.PASS, 1.0)
    wanted = _NAMES.get(expected, expected)
    want_script = _SCRIPTS.get(expected, "LATIN")
    if script not in (want_script, "NONE"):
        return Finding(
            Verdict.UNSURE, 0.3, f"the text is in {script.title()} script; this task asks for {wanted}"
        )
    if want_script == "LATIN" and expected in _STOPWORDS and language not in (None, expected):
        seen = _NAMES[language] if language else "another language"
        return Finding(Verdict.UNSURE, 0.3, f"the text seems to be in {seen}; this task asks for {wanted}")
    return Finding(Verdict.PASS, 1.0)
