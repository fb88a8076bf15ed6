"""build_embedders: the settings decide which models the relevance stage gets."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from datacoop.errors import InvalidInput
from datacoop.models import IMAGE_EMBEDDER, TEXT_EMBEDDER, ClipEmbedder, MiniLmTextEmbedder, build_embedders
from datacoop.settings import Settings


def _settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(data_dir=tmp_path, **values)  # type: ignore[arg-type]


def test_the_default_is_minilm_for_text_and_no_image_model(tmp_path: Path) -> None:
    embedders = build_embedders(_settings(tmp_path))
    assert set(embedders) == {TEXT_EMBEDDER}
    assert isinstance(embedders[TEXT_EMBEDDER], MiniLmTextEmbedder)


def test_text_model_none_leaves_text_unscored(tmp_path: Path) -> None:
    assert build_embedders(_settings(tmp_path, text_model="none")) == {}


def test_an_image_model_folder_gives_a_clip_embedder(tmp_path: Path, tiny_clip: Path) -> None:
    embedders = build_embedders(_settings(tmp_path, text_model="none", image_model_path=tiny_clip))
    assert isinstance(embedders[IMAGE_EMBEDDER], ClipEmbedder)
    assert embedders[IMAGE_EMBEDDER].folder == tiny_clip  # type: ignore[attr-defined]


def test_a_wrong_image_model_folder_stops_the_node(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as caught:
        build_embedders(_settings(tmp_path, image_model_path=tmp_path / "missing"))
    assert caught.value.field == "image_model_path"


def test_an_unknown_text_model_is_refused_by_the_settings(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="text_model"):
        _settings(tmp_path, text_model="gpt")


def test_importing_the_port_and_factory_loads_no_heavy_library() -> None:
    # A fresh interpreter: this one has imported torch for other tests already.
    code = (
        "import sys; import datacoop.models; from datacoop.models import build_embedders; "
        "heavy = {'torch', 'transformers', 'sentence_transformers', 'numpy', 'PIL'} & set(sys.modules); "
        "print(sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"
