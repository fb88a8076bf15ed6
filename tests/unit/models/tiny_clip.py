"""A tiny randomly initialised CLIP (about 240 KiB), built offline and saved like a real one.

Real CLIP weights cannot be downloaded here, so the tests save this model and read it
back through :meth:`ClipEmbedder.from_folder`, the same code a node runs on a real folder.
The tokenizer is byte-level BPE with no merges (every character is a token), which needs
no vocabulary file from anywhere. Two layouts are written: what transformers 5 saves
(``tokenizer.json``, ``processor_config.json``) and the older one most published CLIP
folders still have (``vocab.json``, ``merges.txt``, ``preprocessor_config.json``).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from tokenizers import pre_tokenizers
from transformers import CLIPConfig, CLIPModel, CLIPProcessor, CLIPTokenizer
from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

__all__ = ["CONTEXT", "DIMENSION", "build_tiny_clip"]

DIMENSION = 16  # projection size: the length of every vector
CONTEXT = 24  # text positions: longer texts must be cut, not crash
_START, _END = "<|startoftext|>", "<|endoftext|>"
_MEAN = [0.48145466, 0.4578275, 0.40821073]  # OpenAI CLIP's normalisation
_STD = [0.26862954, 0.26130258, 0.27577711]


def _vocab() -> dict[str, int]:
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    tokens = [_START, _END, *alphabet, *(char + "</w>" for char in alphabet)]
    return {token: index for index, token in enumerate(tokens)}


def _config(vocab_size: int) -> CLIPConfig:
    text = {
        "vocab_size": vocab_size, "hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 2,
        "num_attention_heads": 2, "max_position_embeddings": CONTEXT,
        # the ids of the tokenizer's special tokens: the text tower pools at the end token
        "bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 1,
    }  # fmt: skip
    vision = {
        "image_size": 32, "patch_size": 8, "hidden_size": 32, "intermediate_size": 37,
        "num_hidden_layers": 2, "num_attention_heads": 2,
    }  # fmt: skip
    return CLIPConfig(text_config=text, vision_config=vision, projection_dim=DIMENSION)


def build_tiny_clip(folder: Path, *, legacy_layout: bool = False, seed: int = 0) -> Path:
    """Save a tiny random CLIP model, tokenizer and Pillow image processor in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    vocab = _vocab()
    torch.manual_seed(seed)
    CLIPModel(_config(len(vocab))).save_pretrained(folder)
    if legacy_layout:
        _write_legacy_processor(folder, vocab)
        return folder
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[], model_max_length=CONTEXT)
    images = CLIPImageProcessorPil(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}, image_mean=_MEAN, image_std=_STD
    )
    processor = CLIPProcessor(image_processor=images, tokenizer=tokenizer)  # type: ignore[no-untyped-call]
    processor.save_pretrained(folder)
    return folder


def _write_legacy_processor(folder: Path, vocab: dict[str, int]) -> None:
    files = {
        "vocab.json": vocab,
        "tokenizer_config.json": {
            "tokenizer_class": "CLIPTokenizer", "model_max_length": CONTEXT, "unk_token": _END,
            "bos_token": _START, "eos_token": _END, "pad_token": _END,
        },
        "preprocessor_config.json": {
            "feature_extractor_type": "CLIPFeatureExtractor", "do_resize": True, "size": 32,
            "do_center_crop": True, "crop_size": 32, "do_normalize": True, "image_mean": _MEAN,
            "image_std": _STD, "resample": 3,
        },
    }  # fmt: skip
    for name, content in files.items():
        (folder / name).write_text(json.dumps(content), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
