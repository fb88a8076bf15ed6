"""A CLIP model from a local folder: images and texts in one space, for image relevance.

No Python package ships CLIP (or SigLIP) weights and a node may download nothing, so the
operator points ``image_model_path`` at a folder saved by ``transformers`` (``config.json``,
the weights, a tokenizer and an image processor), for example a copy of
``openai/clip-vit-base-patch32``. The folder is read with ``local_files_only=True`` after
:func:`~datacoop.models.base.offline`. The tests build a tiny random CLIP and load it
through this same code.

Images are preprocessed by transformers' Pillow image processor: the torchvision one
cannot be used beside the CPU torch wheel (see ``NOTES-toolchain.md``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from datacoop.errors import InvalidInput, Unavailable
from datacoop.models.base import INSTALL_HINT, QueryCache, Vectors, normalise, offline

__all__ = ["ClipEmbedder"]

# One loaded (model, processor) per folder for the whole process (read-only at inference).
_loaded: dict[Path, tuple[Any, Any]] = {}
_load_lock = threading.Lock()


def _check_folder(folder: Path) -> None:
    if not folder.is_dir():
        raise InvalidInput(f"the image model folder {folder} does not exist", field="image_model_path")
    if not (folder / "config.json").is_file():
        raise InvalidInput(
            f"the image model folder {folder} has no config.json: save a CLIP model there with "
            "CLIPModel.save_pretrained and CLIPProcessor.save_pretrained",
            field="image_model_path",
        )


def _load(folder: Path) -> tuple[Any, Any]:
    with _load_lock:
        pair = _loaded.get(folder)
        if pair is None:
            pair = _read(folder)
            _loaded[folder] = pair
        return pair


def _read(folder: Path) -> tuple[Any, Any]:
    offline()
    try:
        import torch
        from transformers import CLIPModel, CLIPProcessor
    except ImportError as exc:
        raise Unavailable(f"transformers is not installed; {INSTALL_HINT}") from exc
    try:
        # float32: some checkpoints are saved in float16, which CPUs run slowly or not at all
        model = CLIPModel.from_pretrained(folder, local_files_only=True, dtype=torch.float32)
        processor = CLIPProcessor.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise InvalidInput(
            f"the folder {folder} does not hold a CLIP model and processor ({exc})", field="image_model_path"
        ) from exc
    model.eval()  # type: ignore[no-untyped-call]  # inference only: no dropout
    return model, processor


def _chunks(items: Sequence[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def _pooled(output: Any) -> Any:
    """The projected features, whether transformers returns a tensor (4.x) or an output object (5.x)."""
    return output if hasattr(output, "detach") else output.pooler_output


class ClipEmbedder:
    """Images and texts to unit vectors with a CLIP model read from a folder.

    Args:
        folder: a folder written by ``CLIPModel.save_pretrained`` and ``CLIPProcessor.save_pretrained``.
        batch_size: images or texts per forward pass.

    Construction only checks the folder; the model loads on first use, or at once through
    :meth:`from_folder`.

    Raises:
        InvalidInput: the folder is missing or has no ``config.json``.
    """

    name = "clip"
    languages: frozenset[str] | None = frozenset({"en"})  # CLIP's captions were English

    def __init__(self, folder: Path, *, batch_size: int = 16) -> None:
        self.folder = Path(folder)
        _check_folder(self.folder)  # cheap, so a wrong setting is reported when the node starts
        self.batch_size = batch_size
        self._queries = QueryCache(self.embed_texts)

    @classmethod
    def from_folder(cls, path: str | Path, *, batch_size: int = 16) -> ClipEmbedder:
        """An embedder over ``path``, loaded now so that a wrong folder is reported at start.

        Raises:
            InvalidInput: the folder is missing or does not hold a CLIP model and processor.
            Unavailable: transformers (the ``models`` extra) is not installed.
        """
        embedder = cls(Path(path), batch_size=batch_size)
        embedder.load()
        return embedder

    def load(self) -> None:
        """Load the model and processor now rather than on the first embedding."""
        _load(self.folder)

    @property
    def dimension(self) -> int:
        """Length of the vectors (the model's projection size)."""
        model, _ = _load(self.folder)
        return int(model.config.projection_dim)

    def embed_texts(self, texts: Sequence[str]) -> Vectors:
        """One unit row per text; texts longer than the model's context are cut."""
        import torch

        model, processor = _load(self.folder)
        limit = int(model.config.text_config.max_position_embeddings)
        rows = [np.zeros((0, self.dimension), dtype=np.float32)]
        with torch.inference_mode():
            for batch in _chunks(texts, self.batch_size):
                tokens = processor.tokenizer(
                    batch, padding=True, truncation=True, max_length=limit, return_tensors="pt"
                )
                output = model.get_text_features(
                    input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"]
                )
                rows.append(_pooled(output).float().numpy())
        return normalise(np.concatenate(rows))

    def embed_images(self, images: Sequence[Image.Image]) -> Vectors:
        """One unit row per image (converted to RGB, resized and cropped by the model's processor)."""
        import torch

        model, processor = _load(self.folder)
        rows = [np.zeros((0, self.dimension), dtype=np.float32)]
        with torch.inference_mode():
            for batch in _chunks(images, self.batch_size):
                pixels = processor.image_processor(
                    images=[image.convert("RGB") for image in batch], return_tensors="pt"
                )
                output = model.get_image_features(pixel_values=pixels["pixel_values"])
                rows.append(_pooled(output).float().numpy())
        return normalise(np.concatenate(rows))

    def embed_query(self, text: str) -> Vectors:
        """One text's row, remembered across calls (a task's title and description)."""
        return self._queries.get(text)
