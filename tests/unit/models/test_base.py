"""The port's helpers: unit rows and the remembered query vectors."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pytest

from datacoop.models import QueryCache, Vectors, normalise, offline


class CountingEmbedder:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def embed_texts(self, texts: Sequence[str]) -> Vectors:
        self.calls.append(list(texts))
        return normalise(np.array([[len(text), 1.0] for text in texts]))


def test_normalise_scales_rows_to_unit_length_and_keeps_zero_rows() -> None:
    rows = normalise(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(rows, [[0.6, 0.8], [0.0, 0.0]])
    assert rows.dtype == np.float32


def test_normalise_refuses_a_vector_that_is_not_a_matrix() -> None:
    with pytest.raises(ValueError, match="2-D"):
        normalise(np.ones(3))


def test_a_query_is_computed_once_while_remembered() -> None:
    # Prepare
    model = CountingEmbedder()
    cache = QueryCache(model.embed_texts, size=2)
    # Execute
    first = cache.get("masks")
    again = cache.get("masks")
    # Assert
    assert again is first and model.calls == [["masks"]]
    assert first.shape == (2,) and not first.flags.writeable


def test_the_least_recently_used_query_is_forgotten_first() -> None:
    # Prepare
    model = CountingEmbedder()
    cache = QueryCache(model.embed_texts, size=2)
    # Execute
    cache.get("a"), cache.get("bb"), cache.get("a"), cache.get("ccc"), cache.get("a"), cache.get("bb")
    # Assert: "bb" was the oldest when "ccc" came, so only it was computed twice
    assert [call[0] for call in model.calls] == ["a", "bb", "ccc", "bb"]


def test_offline_forbids_downloads_whatever_was_set_before(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    for name in ("TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_TELEMETRY", "HF_HUB_DISABLE_PROGRESS_BARS"):
        monkeypatch.delenv(name, raising=False)  # monkeypatch restores them after the test
    offline()
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"
