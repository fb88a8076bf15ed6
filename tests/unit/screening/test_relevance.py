"""RelevanceStage: similarity to the task's words, thresholds, plain reasons, "not scored" without a model."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from tests.unit.models.tiny_clip import build_tiny_clip

from datacoop.models import IMAGE_EMBEDDER, TEXT_EMBEDDER, ClipEmbedder, MiniLmTextEmbedder, Vectors
from datacoop.screening.base import ItemContext, StageDeps, TaskView, Verdict
from datacoop.screening.stages.relevance import RelevanceStage
from datacoop.tasks.rules import Modality

MASKS = ("Face masks", "Photos and descriptions of face masks and respirators worn against dust and disease.")


class FixedSimilarity:
    """An embedder whose items sit at a chosen cosine from every query."""

    name = "fixed"
    languages: frozenset[str] | None = frozenset({"en"})

    def __init__(self, similarity: float) -> None:
        self.similarity = similarity
        self.queries: list[str] = []

    def embed_texts(self, texts: Sequence[str]) -> Vectors:
        s = self.similarity
        return np.array([[s, math.sqrt(1 - s * s)]] * len(texts), dtype=np.float32)

    def embed_images(self, images: Sequence[Image.Image]) -> Vectors:
        return self.embed_texts(["image"] * len(images))

    def embed_query(self, text: str) -> Vectors:
        self.queries.append(text)
        return np.array([1.0, 0.0], dtype=np.float32)


def _task(modality: Modality = Modality.TEXT, **params: Any) -> TaskView:
    return TaskView(7, modality, MASKS[0], MASKS[1], {"stages": {"relevance": params}})


def _item(**scratch: Any) -> ItemContext:
    return ItemContext(1, "bafy", 0, "0x" + "22" * 20, lambda: b"", lambda _: "", scratch=dict(scratch))


def _text_item(text: str = "An N95 respirator with two elastic straps and a metal nose clip.") -> ItemContext:
    return _item(text=text, format="text")


@pytest.mark.parametrize(
    ("similarity", "verdict"),
    [
        (0.6, Verdict.PASS),
        (0.25, Verdict.PASS),
        (0.2, Verdict.UNSURE),
        (0.05, Verdict.UNSURE),
        (0.0, Verdict.FAIL),
    ],
)
def test_default_text_thresholds(similarity: float, verdict: Verdict) -> None:
    result = RelevanceStage(text=FixedSimilarity(similarity)).run(_text_item(), _task())
    assert result.verdict is verdict
    assert result.details["similarity"] == pytest.approx(similarity, abs=1e-4)


def test_an_off_topic_english_text_is_refused_in_plain_words() -> None:
    result = RelevanceStage(text=FixedSimilarity(0.02)).run(_text_item(), _task())
    assert result.verdict is Verdict.FAIL
    assert result.reasons == (
        "this text does not seem to be about 'Face masks' (similarity 0.02; needs 0.25)",
    )
    assert result.score == pytest.approx(0.08) and result.details["model"] == "fixed"


def test_a_low_score_on_a_text_the_model_cannot_read_goes_to_review() -> None:
    # Prepare: French, which the English model scores low whatever it says
    french = _text_item("Un masque FFP2 avec deux élastiques, qui filtre la plupart des particules.")
    # Execute
    result = RelevanceStage(text=FixedSimilarity(0.01)).run(french, _task())
    # Assert
    assert result.verdict is Verdict.UNSURE
    assert "the model reads English and this text may be in another language" in result.reasons[0]


def test_the_task_sets_its_own_thresholds_and_prompt() -> None:
    # Prepare
    model = FixedSimilarity(0.3)
    task = _task(review_below=0.4, fail_below=0.35, prompt="a photo of a face mask")
    # Execute
    result = RelevanceStage(text=model).run(_text_item(), task)
    # Assert
    assert result.verdict is Verdict.FAIL and "needs 0.40" in result.reasons[0]
    assert model.queries == ["a photo of a face mask"]


def test_the_default_prompt_is_the_title_and_description() -> None:
    model = FixedSimilarity(0.5)
    RelevanceStage(text=model).run(_text_item(), _task())
    assert model.queries == [f"{MASKS[0]}. {MASKS[1]}"]


def test_images_never_fail_on_a_clip_score_alone_by_default() -> None:
    stage = RelevanceStage(image=FixedSimilarity(-0.3))
    result = stage.run(_item(image=Image.new("RGB", (64, 64))), _task(Modality.IMAGE))
    assert result.verdict is Verdict.UNSURE
    assert result.reasons == ("this image may not show 'Face masks' (similarity -0.30; needs 0.20)",)


@pytest.mark.parametrize("modality", [Modality.TEXT, Modality.IMAGE])
def test_without_a_model_the_item_is_not_scored(modality: Modality) -> None:
    # Prepare: the stage as the pipeline builds it on a node with no models
    stage = RelevanceStage.create(StageDeps())
    item = _item(text="some text", image=Image.new("RGB", (8, 8)))
    # Execute
    result = stage.run(item, _task(modality))
    # Assert
    assert result.verdict is Verdict.SKIPPED and result.score is None
    assert result.reasons == (
        f"relevance was not scored: this node has no {modality.value} model configured",
    )


def test_the_item_vector_is_kept_once_for_the_task_model() -> None:
    # Execute: a text through an embedder; an image on a node with no image model
    text = _text_item()
    RelevanceStage(text=FixedSimilarity(0.6)).run(text, _task())
    image = _item(image=Image.new("RGB", (40, 30), (200, 30, 30)))
    RelevanceStage().run(image, _task(Modality.IMAGE))

    # Assert: the embedding as computed, and classic features (colour histogram + grey thumbnail)
    name, vector = text.scratch["features"]
    assert name == "fixed" and vector.tolist() == pytest.approx([0.6, 0.8])
    name, classic = image.scratch["features"]
    assert name == "classic-hist-thumb" and classic.shape == (128,) and classic.dtype == np.float32
    assert classic[:64].sum() == pytest.approx(1.0) and classic[:64].max() == pytest.approx(1.0)


def test_an_item_the_decode_stage_did_not_decode_is_skipped() -> None:
    result = RelevanceStage(text=FixedSimilarity(0.9)).run(_item(), _task())
    assert result.verdict is Verdict.SKIPPED and result.reasons == ("the item was not decoded",)


def test_the_stage_is_registered_for_text_and_images_after_the_cheap_checks() -> None:
    from datacoop.screening.registry import discover

    assert discover()["relevance"] is RelevanceStage
    assert RelevanceStage.modalities == {Modality.TEXT, Modality.IMAGE} and RelevanceStage.cost == 70


# --- with the real models ------------------------------------------------------------------


@pytest.fixture(scope="module")
def minilm_stage() -> RelevanceStage:
    return RelevanceStage.create(StageDeps(models={TEXT_EMBEDDER: MiniLmTextEmbedder()}))


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        (
            "An N95 respirator with two elastic straps, tested to filter 95% of airborne particles.",
            Verdict.PASS,
        ),
        ("I wore my cloth mask on the bus this morning and the ear loop broke.", Verdict.PASS),
        ("A cat sleeping on a sofa.", Verdict.FAIL),
        ("The stock market fell 3% today on fears of inflation.", Verdict.FAIL),
        ("Atemschutzmaske FFP2 mit Nasenbügel, die ich auf der Arbeit trage.", Verdict.UNSURE),
        ("hello", Verdict.UNSURE),
    ],
)
def test_minilm_on_realistic_texts(minilm_stage: RelevanceStage, text: str, verdict: Verdict) -> None:
    result = minilm_stage.run(_text_item(text), _task())
    assert result.verdict is verdict, result
    assert result.details["model"] == "minilm"


@pytest.fixture(scope="module")
def clip_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_clip(tmp_path_factory.mktemp("relevance-clip"))


def test_an_image_is_scored_through_the_configured_clip(clip_folder: Path) -> None:
    # Prepare
    deps = StageDeps(models={IMAGE_EMBEDDER: ClipEmbedder.from_folder(clip_folder)})
    picture = Image.fromarray(np.random.default_rng(5).integers(0, 256, (96, 128, 3), dtype=np.uint8))
    # Execute
    result = RelevanceStage.create(deps).run(_item(image=picture), _task(Modality.IMAGE))
    # Assert: a random model gives no meaningful verdict, but a real, finite, bounded one
    similarity: Mapping[str, Any] = result.details
    assert result.verdict in (Verdict.PASS, Verdict.UNSURE)
    assert math.isfinite(similarity["similarity"]) and -1.0 <= similarity["similarity"] <= 1.0
    assert result.details["model"] == "clip" and result.score is not None and 0.0 <= result.score <= 1.0
