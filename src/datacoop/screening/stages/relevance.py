"""Relevance: is the item about what the task asks for? Cosine similarity to the task's own words.

The item (the decoded text, or the reduced image the decode stage left in ``item.scratch``)
and the task's title and description are embedded by a model from ``StageDeps.models``
(see :mod:`datacoop.models`) and compared. A modality without a configured model is
``skipped`` as "not scored": this stage never invents a score. The item's vector (or, for an
image without an image model, its classic features) is left in ``item.scratch["features"]``;
pre-screening stores it once for the task's own relevance model (:mod:`datacoop.review.task_model`).

Settings (``rules.stages.relevance``), with defaults:

- ``fail_below``: text 0.05 (MiniLM); images none, so a CLIP score alone never rejects;
- ``review_below``: text 0.25 (MiniLM); images 0.20 (CLIP);
- ``prompt``: the words items are compared with (default: "<title>. <description>");
  for CLIP a caption such as "a photo of a face mask" works better than a brief.

Why these numbers. MiniLM, measured on five tasks (masks, bird song, recipes, street
photos, support chats): English texts on the topic scored 0.27 to 0.64 (one terse one 0.12),
texts written for another of the tasks -0.11 to 0.14, off-topic texts -0.14 to 0.21 (the
highest were "hello" and "please accept this submission"). On-topic texts in French, German,
Spanish or Japanese scored 0.01 to 0.17, because the model reads English only: so a text is
failed only when it is recognisably English; otherwise a low score sends it to a validator.
CLIP could not be calibrated here (no weights on this machine); 0.20 sits between the
cosine of unrelated image–caption pairs (about 0.10–0.20 for ViT-B/32) and LAION's 0.28 bar
for a good caption, and the scale differs between checkpoints, so a task should set its
own ``fail_below`` once it has seen its model's scores.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from datacoop.models.base import Embedder, ImageEmbedder, Vectors
from datacoop.models.factory import IMAGE_EMBEDDER, TEXT_EMBEDDER
from datacoop.screening.base import ItemContext, StageDeps, StageResult, TaskView, Verdict
from datacoop.screening.stages._textcheck import guess_language, script_of
from datacoop.tasks.rules import Modality

__all__ = ["DEFAULT_THRESHOLDS", "RelevanceStage"]

# (fail_below, review_below) when the task sets none; None: never fail on this score alone
DEFAULT_THRESHOLDS: Mapping[Modality, tuple[float | None, float]] = {
    Modality.TEXT: (0.05, 0.25),
    Modality.IMAGE: (None, 0.20),
}
_WORD = re.compile(r"[^\W\d_]+")
_WHAT = {Modality.TEXT: ("this text", "be about"), Modality.IMAGE: ("this image", "show")}


class RelevanceStage:
    """Scores how close an item is to its task's description; fails only clear English off-topic text.

    Args:
        text: the text embedder, or None when the node scores no text.
        image: the image embedder (CLIP-style), or None when the node scores no images.
    """

    name: ClassVar[str] = "relevance"
    modalities: ClassVar[frozenset[Modality]] = frozenset({Modality.TEXT, Modality.IMAGE})
    cost: ClassVar[int] = 70  # a model call: after every cheap check

    def __init__(self, text: Embedder | None = None, image: ImageEmbedder | None = None) -> None:
        self._text, self._image = text, image

    @classmethod
    def create(cls, deps: StageDeps) -> RelevanceStage:
        """The stage over the node's embedders (``text_embedder``, ``image_embedder``)."""
        return cls(deps.models.get(TEXT_EMBEDDER), deps.models.get(IMAGE_EMBEDDER))

    def run(self, item: ItemContext, task: TaskView) -> StageResult:
        if task.modality is Modality.TEXT:
            return self._score_text(item, task)
        return self._score_image(item, task)

    def _score_text(self, item: ItemContext, task: TaskView) -> StageResult:
        text = item.scratch.get("text")
        if not isinstance(text, str):
            return StageResult(self.name, Verdict.SKIPPED, ("the item was not decoded",))
        if self._text is None:
            return _not_scored("text")
        vector = self._text.embed_texts([text])[0]
        item.scratch["features"] = (self._text.name, vector)  # kept once, for the task's own model
        similarity = _cosine(vector, self._text.embed_query(_prompt(task)))
        return _judge(similarity, task, self._text, readable=_reads(self._text, text))

    def _score_image(self, item: ItemContext, task: TaskView) -> StageResult:
        from PIL import Image  # with the first job, not with the stage class (see _deps.py)

        image = item.scratch.get("image")
        if not isinstance(image, Image.Image):
            return StageResult(self.name, Verdict.SKIPPED, ("the item was not decoded",))
        if self._image is None:
            from datacoop.models.classic import CLASSIC_NAME, image_features

            item.scratch["features"] = (CLASSIC_NAME, image_features(image))
            return _not_scored("image")
        vector = self._image.embed_images([image])[0]
        item.scratch["features"] = (self._image.name, vector)
        similarity = _cosine(vector, self._image.embed_query(_prompt(task)))
        return _judge(similarity, task, self._image, readable=True)


def _not_scored(modality: str) -> StageResult:
    reason = f"relevance was not scored: this node has no {modality} model configured"
    return StageResult(RelevanceStage.name, Verdict.SKIPPED, (reason,), details={"model": None})


def _prompt(task: TaskView) -> str:
    prompt = task.params(RelevanceStage.name).get("prompt")
    if isinstance(prompt, str) and prompt.strip():
        return prompt.strip()
    return ". ".join(part.strip() for part in (task.title, task.description) if part.strip())


def _cosine(item: Vectors, topic: Vectors) -> float:
    import numpy as np

    return float(np.dot(item, topic))  # both rows are unit length


def _reads(model: Embedder, text: str) -> bool:
    """Whether the model reads the text's language; False also when the language cannot be told."""
    if model.languages is None:
        return True
    if script_of(text) != "LATIN":  # every language these models read well is written in Latin script
        return False
    return guess_language(_WORD.findall(text[:20_000])) in model.languages


def _thresholds(task: TaskView) -> tuple[float | None, float]:
    params = task.params(RelevanceStage.name)
    fail_default, review_default = DEFAULT_THRESHOLDS[task.modality]
    fail = params.get("fail_below", fail_default)
    review = params.get("review_below", review_default)
    return (None if fail is None else float(fail)), float(review)


def _judge(similarity: float, task: TaskView, model: Embedder, *, readable: bool) -> StageResult:
    fail_below, review_below = _thresholds(task)
    details: dict[str, Any] = {"model": model.name, "similarity": round(similarity, 4), "needs": review_below}
    score = round(min(1.0, max(0.0, similarity / review_below)) if review_below > 0 else 1.0, 4)
    subject, verb = _WHAT[task.modality]
    measured = f"similarity {similarity:.2f}; needs {review_below:.2f}"
    if fail_below is not None and similarity < fail_below:
        if readable:
            reason = f"{subject} does not seem to {verb} '{task.title}' ({measured})"
            return StageResult(RelevanceStage.name, Verdict.FAIL, (reason,), score=score, details=details)
        details["language_checked"] = False
        reason = (
            f"{subject} may not {verb} '{task.title}' ({measured}); the model reads "
            f"{_languages(model)} and this text may be in another language, so a validator will look"
        )
        return StageResult(RelevanceStage.name, Verdict.UNSURE, (reason,), score=score, details=details)
    if similarity < review_below:
        reason = f"{subject} may not {verb} '{task.title}' ({measured})"
        return StageResult(RelevanceStage.name, Verdict.UNSURE, (reason,), score=score, details=details)
    return StageResult(RelevanceStage.name, Verdict.PASS, score=score, details=details)


def _languages(model: Embedder) -> str:
    names = {"en": "English"}
    return " and ".join(names.get(code, code) for code in sorted(model.languages or ()))
