"""ClipEmbedder over a tiny random CLIP saved to disk: the loading code a node runs on a real folder."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tests.unit.models.tiny_clip import CONTEXT, DIMENSION

from datacoop.errors import InvalidInput
from datacoop.models import ClipEmbedder, ImageEmbedder
from datacoop.models import clip as clip_module


def _pictures(count: int) -> list[Image.Image]:
    rng = np.random.default_rng(3)
    sizes = [(64, 48), (31, 90), (200, 120)] * count
    return [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for w, h in sizes[:count]]


@pytest.mark.parametrize("legacy", [False, True], ids=["saved-by-transformers-5", "older-layout"])
def test_both_folder_layouts_load_and_score(legacy: bool, tiny_clip: Path, tiny_clip_legacy: Path) -> None:
    # Prepare (both folders are fixture arguments, never fetched inside the test: titanoboa's
    # plugin snapshots around each fixture, and a session fixture set up mid-test breaks its order)
    folder = tiny_clip_legacy if legacy else tiny_clip
    # Execute
    clip = ClipEmbedder.from_folder(folder)
    images = clip.embed_images(_pictures(3))
    texts = clip.embed_texts(["a photo of a face mask", "a street at night"])
    # Assert
    assert isinstance(clip, ImageEmbedder)
    assert images.shape == (3, DIMENSION) and texts.shape == (2, DIMENSION)
    assert images.dtype == np.float32 and texts.dtype == np.float32
    similarities = images @ texts.T
    assert np.isfinite(similarities).all() and (np.abs(similarities) <= 1.0 + 1e-5).all()
    np.testing.assert_allclose(np.linalg.norm(images, axis=1), 1.0, atol=1e-5)


def test_scores_are_deterministic_and_batches_agree(tiny_clip: Path) -> None:
    # Prepare
    clip = ClipEmbedder(tiny_clip, batch_size=2)
    pictures = _pictures(5)
    # Execute
    batched = clip.embed_images(pictures)
    one_by_one = np.vstack([clip.embed_images([picture]) for picture in pictures])
    # Assert
    np.testing.assert_allclose(batched, one_by_one, atol=1e-5)
    np.testing.assert_array_equal(clip.embed_images(pictures[:1]), clip.embed_images(pictures[:1]))


def test_texts_longer_than_the_context_are_cut_not_fatal(tiny_clip: Path) -> None:
    clip = ClipEmbedder(tiny_clip)
    rows = clip.embed_texts(["mask " * (CONTEXT * 10), ""])
    assert rows.shape == (2, DIMENSION) and np.isfinite(rows).all()


def test_grayscale_and_rgba_images_are_converted(tiny_clip: Path) -> None:
    clip = ClipEmbedder(tiny_clip)
    rows = clip.embed_images([Image.new("L", (40, 40), 90), Image.new("RGBA", (40, 30), (1, 2, 3, 4))])
    assert rows.shape == (2, DIMENSION) and np.isfinite(rows).all()


def test_empty_inputs_give_empty_matrices(tiny_clip: Path) -> None:
    clip = ClipEmbedder(tiny_clip)
    assert clip.embed_images([]).shape == (0, DIMENSION)
    assert clip.embed_texts([]).shape == (0, DIMENSION)


def test_query_vectors_are_remembered_and_read_only(tiny_clip: Path) -> None:
    clip = ClipEmbedder(tiny_clip)
    first = clip.embed_query("a photo of a face mask")
    assert clip.embed_query("a photo of a face mask") is first
    with pytest.raises(ValueError):
        first[0] = 2.0


def test_a_missing_folder_is_refused_with_the_setting_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as caught:
        ClipEmbedder(tmp_path / "nowhere")
    assert caught.value.field == "image_model_path"
    assert "does not exist" in caught.value.message


def test_a_folder_without_a_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"no config\.json"):
        ClipEmbedder.from_folder(tmp_path)


def test_a_folder_with_a_broken_model_is_refused_at_load(tmp_path: Path) -> None:
    # Prepare: a config that is not a CLIP's, and no weights
    (tmp_path / "config.json").write_text('{"model_type": "bert"}', encoding="utf-8")
    # Execute / Assert
    with pytest.raises(InvalidInput, match="does not hold a CLIP model"):
        ClipEmbedder.from_folder(tmp_path)


def test_loading_touches_no_network(tiny_clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Prepare: nothing loaded yet, and any connection attempt fails
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model tried to reach the network")

    monkeypatch.setattr(clip_module, "_loaded", {})
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    # Execute / Assert
    assert ClipEmbedder.from_folder(tiny_clip).embed_texts(["a mask"]).shape == (1, DIMENSION)
