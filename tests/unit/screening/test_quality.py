"""The quality stage: blur, exposure, emptiness and resolution for images; sense for text; level for audio."""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest
from PIL import Image, ImageFilter
from tests.data.make_corpus import TEXT, astronaut, encode, scene, wav
from tests.unit.screening.items import make_item, make_task

from datacoop.screening.base import StageResult, Verdict
from datacoop.screening.stages.decode import DecodeStage
from datacoop.screening.stages.quality import QualityStage, sharpness


def quality(data: bytes, modality: str = "image", **rules: object) -> StageResult:
    item, task = make_item(data), make_task(modality, **rules)
    assert DecodeStage().run(item, task).verdict is Verdict.PASS
    return QualityStage().run(item, task)


def gray(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L"))


@pytest.mark.parametrize("picture", [scene(), astronaut()], ids=["scene", "astronaut"])
def test_sharpness_orders_sharp_above_blurred(picture: Image.Image) -> None:
    scores = [sharpness(gray(picture.filter(ImageFilter.GaussianBlur(r)))) for r in (0, 1, 2, 4, 8)]

    assert scores == sorted(scores, reverse=True)
    assert scores[0] > 10 * scores[-1]


def test_a_sharp_photo_passes_every_image_check() -> None:
    result = quality(encode(astronaut()))

    assert result.verdict is Verdict.PASS, result.reasons
    assert result.score is not None and 0.0 <= result.score <= 1.0
    assert {"sharpness", "brightness", "contrast", "width", "height"} <= set(result.details)


@pytest.mark.parametrize(
    ("picture", "verdict", "words"),
    [
        (scene().point(lambda v: v // 25), Verdict.FAIL, "almost black"),
        (scene().point(lambda v: 245 + v // 25), Verdict.FAIL, "almost white"),
        (scene().point(lambda v: 10 + v // 5), Verdict.UNSURE, "very dark"),
        (Image.new("RGB", (640, 480), (90, 140, 200)), Verdict.FAIL, "nearly blank"),
        (scene().filter(ImageFilter.GaussianBlur(1.6)), Verdict.UNSURE, "looks blurred"),
        (scene().filter(ImageFilter.GaussianBlur(8)), Verdict.FAIL, "too blurred"),
    ],
    ids=["black", "white", "dim", "flat", "soft", "blurred"],
)
def test_image_problems(picture: Image.Image, verdict: Verdict, words: str) -> None:
    result = quality(encode(picture, "PNG"))

    assert result.verdict is verdict, result.as_dict()
    assert words in " ".join(result.reasons)


def test_thresholds_are_task_settings() -> None:
    soft = encode(scene().filter(ImageFilter.GaussianBlur(1.6)), "PNG")

    result = quality(soft, stages={"quality": {"blur_fail": 1, "blur_review": 2}})

    assert result.verdict is Verdict.PASS


def test_resolution_reason_names_both_sizes() -> None:
    result = quality(encode(scene((800, 600))), min_width=1024, min_height=768)

    assert result.verdict is Verdict.FAIL
    assert result.reasons[0] == "the image is 800×600; this task needs at least 1,024×768"


@pytest.mark.parametrize(
    ("text", "settings", "verdict", "words"),
    [
        (TEXT, {}, Verdict.PASS, ""),
        ("Hello", {}, Verdict.UNSURE, "the text has only 1 word"),
        ("12345 67890 !!!! ???? 2024-05-01 #### 42 17", {}, Verdict.UNSURE, "mostly digits or symbols"),
        ("xkcd qwrtz bcdfg hjklm pstvw zxcvb nmbvc " * 3, {}, Verdict.UNSURE, "random letters"),
        ("ab" * 2_000, {}, Verdict.FAIL, "the same few characters repeated"),
        (TEXT, {"language": "de"}, Verdict.UNSURE, "seems to be in English; this task asks for German"),
        (
            "Это обычный русский текст о погоде и городе.",  # noqa: RUF001 (Russian on purpose)
            {"language": "en"},
            Verdict.UNSURE,
            "Cyrillic script",
        ),
    ],
    ids=["fine", "short", "symbols", "mash", "repeated", "wrong-language", "wrong-script"],
)
def test_text_checks(text: str, settings: dict[str, object], verdict: Verdict, words: str) -> None:
    result = quality(text.encode(), "text", stages={"quality": settings})

    assert result.verdict is verdict, result.as_dict()
    assert words in " ".join(result.reasons)


def test_language_is_reported() -> None:
    result = quality(b"Der Hund ist nicht im Haus, und die Katze ist auch nicht da.", "text")

    assert result.details["language"] == "de" and result.details["script"] == "LATIN"


def pcm_wav(samples: np.ndarray, width: int, rate: int = 8_000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return out.getvalue()


def test_audio_levels() -> None:
    loud, quiet = quality(wav(1, amplitude=0.5), "audio"), quality(wav(1, amplitude=0.003), "audio")
    full_scale = quality(wav(1, amplitude=1.0), "audio")

    assert loud.verdict is Verdict.PASS and -10 < loud.details["rms_dbfs"] < -8  # sine RMS: -3 dB below peak
    assert quiet.verdict is Verdict.UNSURE and "very quiet" in quiet.reasons[0]
    assert full_scale.details["peak_dbfs"] > -0.01


def test_clipping_is_flagged() -> None:
    square = np.where(np.sin(np.arange(8_000) / 5) > 0, 32767, -32768).astype("<i2")

    result = quality(pcm_wav(square, 2), "audio")

    assert result.verdict is Verdict.UNSURE and "clipped" in result.reasons[0]


@pytest.mark.parametrize("width", [1, 3])
def test_8_and_24_bit_wav_levels(width: int) -> None:
    tone = 0.25 * np.sin(2 * np.pi * 440 * np.arange(8_000) / 8_000)
    if width == 1:
        raw = np.round(128 + 127 * tone).astype(np.uint8)
    else:
        ints = np.round(tone * (1 << 23)).astype("<i4")
        raw = np.frombuffer(ints.tobytes(), np.uint8).reshape(-1, 4)[:, :3].copy()

    result = quality(pcm_wav(raw, width), "audio")

    assert result.verdict is Verdict.PASS
    assert result.details["rms_dbfs"] == pytest.approx(-15.05, abs=0.1)  # 0.25 peak sine


def test_non_wav_audio_is_not_measured() -> None:
    item = make_item(b"")
    item.scratch["format"] = "mp3"

    result = QualityStage().run(item, make_task("audio"))

    assert result.verdict is Verdict.SKIPPED
