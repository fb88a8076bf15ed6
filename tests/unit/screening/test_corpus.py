"""Each corpus case gets the exact verdict from the stage that should decide it, with a reason naming why."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.data import make_corpus
from tests.unit.screening.items import CHAIN, make_item, make_task, run_chain

from datacoop.screening.base import Verdict

PASS, FAIL, UNSURE = Verdict.PASS, Verdict.FAIL, Verdict.UNSURE

# case: (deciding stage, its verdict, words its reason must contain)
EXPECTED: dict[str, tuple[str, Verdict, tuple[str, ...]]] = {
    "png_bomb": ("decode", FAIL, ("50,000×50,000", "2,500 megapixels", "limit is 50 megapixels", "bomb")),
    "jpeg_bomb": ("decode", FAIL, ("65,000×65,000", "limit is 50 megapixels", "bomb")),
    "tiff_bomb": ("decode", FAIL, ("too large to open safely", "2500000000 pixels")),
    "truncated_jpeg": ("decode", FAIL, ("JPEG file is truncated",)),
    "truncated_png": ("decode", FAIL, ("PNG file is truncated",)),
    "zero_bytes": ("decode", FAIL, ("empty (0 bytes)",)),
    "html_as_jpeg": ("decode", FAIL, ("an HTML document with a <script> tag, not an image",)),
    "svg_as_jpeg": ("decode", FAIL, ("an SVG drawing", "<script> tag", "not an image")),
    "elf_as_jpeg": ("decode", FAIL, ("a Linux program (ELF executable), not an image",)),
    "polyglot_jpeg_html": ("decode", FAIL, ("a JPEG image with an HTML document (<script> tag)", "polyglot")),
    "huge_exif": ("decode", FAIL, ("1.4 MB of metadata", "the limit is 1.0 MB")),
    "png_named_jpg_refused": ("decode", FAIL, ("the file is a PNG image; this task accepts only JPEG",)),
    "png_named_jpg_accepted": ("decode", PASS, ()),
    "gps_jpeg": ("scrub", PASS, ("the GPS location", "Canon EOS 5D Mark IV", "the capture time")),
    "too_small": ("quality", FAIL, ("the image is 640×480; this task needs at least 1,024×768",)),
    "dark": ("quality", FAIL, ("almost black", "mean brightness 4 of 255")),
    "blurred": ("quality", FAIL, ("too blurred", "sharpness")),
    "blank": ("quality", FAIL, ("nearly blank", "one flat colour")),
    "face_review": ("pii", UNSURE, ("shows 1 face", "a validator will check it")),
    "face_reject": ("pii", FAIL, ("shows 1 face", "does not accept images of people")),
    "latin1_text": ("decode", FAIL, ("not valid UTF-8", "byte 0xE9 at position 3")),
    "too_long_text": ("decode", FAIL, ("124,999 characters", "the limit is 100,000")),
    "png_as_text": ("decode", FAIL, ("the file is a PNG image, not text",)),
    "text_with_pii": ("pii", UNSURE, ("1 email address", "1 phone number")),
    "zero_second_wav": ("decode", FAIL, ("empty (0 seconds of sound)",)),
    "too_long_wav": ("decode", FAIL, ("lasts 10.0 s", "accepts at most 5 s")),
    "truncated_wav": ("decode", FAIL, ("WAV file is truncated",)),
    "silent_wav": ("quality", FAIL, ("silent", "-120 dBFS")),
    "jpeg_as_audio": ("decode", FAIL, ("the file is a JPEG image, not a recording",)),
}


def test_every_case_has_an_expectation() -> None:
    assert {case.name for case in make_corpus.CASES} == set(EXPECTED)


@pytest.mark.parametrize("case", make_corpus.CASES, ids=lambda case: case.name)
def test_corpus_case(case: make_corpus.Case, corpus: dict[str, Path]) -> None:
    # Prepare
    stage, verdict, words = EXPECTED[case.name]
    item = make_item(corpus[case.name].read_bytes())

    # Execute
    results = run_chain(item, make_task(case.modality, **case.rules))

    # Assert: the deciding stage said exactly this, and nothing before it failed
    assert stage in results, f"the chain stopped before {stage}: {[r.as_dict() for r in results.values()]}"
    result = results[stage]
    assert result.verdict is verdict, result.as_dict()
    reason = " ".join(result.reasons)
    for word in words:
        assert word in reason, f"{word!r} not in {reason!r}"
    earlier = [r for name, r in results.items() if name != stage]
    assert all(r.verdict is not FAIL for r in earlier)
    if verdict is FAIL:
        assert list(results)[-1] == stage, "the chain goes on after a fail"


def test_wrong_extension_reports_the_real_format(corpus: dict[str, Path]) -> None:
    result = run_chain(make_item(corpus["png_named_jpg_accepted"].read_bytes()), make_task())["decode"]

    assert result.details["format"] == "png"


def test_no_case_crashes_any_stage_even_when_run_alone(corpus: dict[str, Path]) -> None:
    # Stages after decode must cope when decode failed and left nothing in scratch (a third-party order).
    for case in make_corpus.CASES:
        task = make_task(case.modality, **case.rules)
        for cls in CHAIN:
            if task.modality in cls.modalities:
                result = cls().run(make_item(corpus[case.name].read_bytes()), task)
                assert result.stage == cls.name and result.verdict in set(Verdict), (case.name, cls.name)
