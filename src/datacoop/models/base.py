"""The models port: embedders that turn texts and images into comparable unit vectors.

A :class:`TextEmbedder` maps texts to L2-normalised rows, so the dot product of two
rows is their cosine similarity; an :class:`ImageEmbedder` also maps images into the
same space as its texts (CLIP-style). Stages receive embedders through
``StageDeps.models`` and never load a model themselves.

Adapters beside this port: :class:`~datacoop.models.minilm.MiniLmTextEmbedder` (text,
shipped inside a Python package) and :class:`~datacoop.models.clip.ClipEmbedder`
(text and images, from a configured local folder). Nothing is ever downloaded:
:func:`offline` is called before any Hugging Face library is imported.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol, TypeAlias, runtime_checkable

if TYPE_CHECKING:  # numpy and Pillow load with a model, not with the stage classes (see stages/_deps.py)
    import numpy as np
    from numpy.typing import NDArray
    from PIL import Image

__all__ = ["INSTALL_HINT", "Embedder", "ImageEmbedder", "QueryCache", "Vectors", "normalise", "offline"]

# what every "this model cannot load" error tells the operator to do
INSTALL_HINT = "install the models extra: pip install torch==2.13.0 'datacoop[models]'"

Vectors: TypeAlias = "NDArray[np.float32]"


@runtime_checkable
class Embedder(Protocol):
    """Texts to unit vectors."""

    name: str  # shown to contributors and validators: "minilm", "clip"
    languages: frozenset[str] | None  # ISO 639-1 codes the model reads well; None: any

    def embed_texts(self, texts: Sequence[str]) -> Vectors:
        """One L2-normalised float32 row per text, shape ``(len(texts), dim)``."""
        ...

    def embed_query(self, text: str) -> Vectors:
        """One text's row, remembered: a task's description is compared with many items."""
        ...


@runtime_checkable
class ImageEmbedder(Embedder, Protocol):
    """Texts and images to unit vectors in one space, so an image can be compared with a description."""

    def embed_images(self, images: Sequence[Image.Image]) -> Vectors:
        """One L2-normalised float32 row per image, shape ``(len(images), dim)``."""
        ...


class QueryCache:
    """The vectors of the last ``size`` texts an adapter was asked for through ``embed_query``.

    Tasks are few and items many, so remembering each task's description vector halves
    the model calls of the relevance stage. Thread-safe: in-process workers share one embedder.

    Args:
        compute: the adapter's ``embed_texts``.
        size: how many texts to remember (least recently used first out).
    """

    def __init__(self, compute: Callable[[Sequence[str]], Vectors], size: int = 256) -> None:
        self._compute, self._size = compute, size
        self._rows: OrderedDict[str, Vectors] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, text: str) -> Vectors:
        """The vector of ``text`` (1-D), computed once while it stays among the recent ones."""
        with self._lock:
            remembered = self._rows.get(text)
            if remembered is not None:
                self._rows.move_to_end(text)
                return remembered
        row: Vectors = self._compute([text])[0, :]
        row.setflags(write=False)  # shared between callers: nobody may change it in place
        with self._lock:
            self._rows[text] = row
            while len(self._rows) > self._size:
                self._rows.popitem(last=False)
        return row


def normalise(rows: NDArray[np.floating]) -> Vectors:
    """Rows scaled to unit length (float32); all-zero rows stay zero rather than becoming NaN."""
    import numpy as np

    matrix = np.asarray(rows, dtype=np.float32)
    if matrix.ndim != 2:
        raise ValueError(f"expected a 2-D array of embeddings, got shape {matrix.shape}")
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    unit: Vectors = np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)
    return unit


def offline() -> None:
    """Forbid Hugging Face libraries any network access, before they are imported.

    ``huggingface_hub`` reads these variables once, at import: setting them later has no
    effect, so every adapter calls this before its first ``import transformers``. They are
    forced rather than defaulted because no configuration may make a node download weights.
    """
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"  # no tqdm bars in worker logs
