"""Open-mode release, on its own: only a declared aggregate leaves, re-encoded by the node.

Each exfiltration case is a job's /out as a hostile algorithm would leave it, built from the
real bytes of the inputs; each must be withheld with the reason the buyer will read. The good
aggregate is released as the node's own canonical JSON, rounded, with noise where declared.
"""

from __future__ import annotations

import base64
import io
import json
import zlib
from pathlib import Path

import numpy as np
import pytest

from datacoop.compute.fingerprints import Fingerprints
from datacoop.compute.release import Aggregate, ReleasePolicy, open_log, release_aggregate

ITEMS = [bytes(np.random.default_rng(i).integers(0, 256, 700, dtype=np.uint8)) for i in range(4)]
DATA_BYTES = sum(len(i) for i in ITEMS)  # 2,800: a 5 % budget is 140 bytes
POLICY = ReleasePolicy(mode="open", metrics=("accuracy", "items"), parameters={"weights": (2, 3)})
GOOD = {"metrics": {"accuracy": 0.8125, "items": 4}, "parameters": {"weights": [[0.1, 0.2, 0.3], [1, 2, 3]]}}


def _release(tmp_path: Path, files: dict[str, bytes], policy: ReleasePolicy = POLICY) -> Aggregate | str:
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    prints = Fingerprints(64)
    for k, item in enumerate(ITEMS):
        prints.add(f"{k:06d}.png", item)
    rng = np.random.default_rng(7)
    return release_aggregate(tmp_path, sorted(files), policy, DATA_BYTES, prints.seal(), rng)


def _result(doc: object) -> dict[str, bytes]:
    return {"result.json": json.dumps(doc).encode()}


def _npy(array: np.ndarray) -> bytes:  # type: ignore[type-arg]
    out = io.BytesIO()
    np.save(out, array)
    return out.getvalue()


ITEM = ITEMS[1]
PIXELS = np.frombuffer(ITEM, dtype=np.uint8)
EXFILTRATION = {
    "base64_as_a_metric": (
        _result({"metrics": {"accuracy": base64.b64encode(ITEM).decode()}}),
        "metric 'accuracy' is not a finite number",
    ),
    "hex_in_a_new_metric": (
        _result({"metrics": {"accuracy": 1.0, ITEM[:20].hex(): 1}}),
        "1 metric name(s) are not declared (declared: accuracy, items)",  # the name itself is not repeated
    ),
    "xor_as_extra_field": (
        _result({**GOOD, "extra": list(bytes(b ^ 0x5A for b in ITEM))}),
        "result.json must be an object with only 'metrics' and 'parameters'",
    ),
    "reversed_in_weights_beyond_the_shape": (
        _result({"parameters": {"weights": [list(ITEM[::-1][:350]), list(ITEM[::-1][350:])]}}),
        "parameter 'weights' does not have the declared shape [2, 3] of finite numbers",
    ),
    "pixels_in_an_undeclared_parameter": (
        _result({**GOOD, "parameters": {"weights": GOOD["parameters"]["weights"], "bias": PIXELS.tolist()}}),
        "1 parameter name(s) are not declared (declared: weights)",
    ),
    "zlib_beside_the_result": (
        {**_result(GOOD), "blob.zlib": zlib.compress(ITEM)},
        "an open algorithm may release only 'result.json' (it wrote 2 file(s) in all)",
    ),
    "pixels_as_npy": (
        {"pixels.npy": _npy(PIXELS)},
        "an open algorithm may release only 'result.json' (it wrote 1 file(s) in all)",
    ),
    "pixels_as_csv": (
        {"pixels.csv": ",".join(map(str, PIXELS)).encode()},
        "an open algorithm may release only 'result.json' (it wrote 1 file(s) in all)",
    ),
    "small_pieces_in_many_files": (
        {f"part{i:03d}.json": json.dumps(list(ITEM[i * 7 : i * 7 + 7])).encode() for i in range(100)},
        "an open algorithm may release only 'result.json' (it wrote 100 file(s) in all)",
    ),
    "nan_and_infinity": (
        {"result.json": b'{"metrics": {"accuracy": NaN}}'},
        "metric 'accuracy' is not a finite number",
    ),
    "not_json": ({"result.json": ITEM}, "result.json is not JSON"),
    "ragged_weights": (
        _result({"parameters": {"weights": [[1, 2, 3], [4, 5]]}}),
        "parameter 'weights' does not have the declared shape [2, 3] of finite numbers",
    ),
}


@pytest.mark.parametrize("name", list(EXFILTRATION))
def test_anything_but_the_declared_aggregate_is_withheld(tmp_path: Path, name: str) -> None:
    files, reason = EXFILTRATION[name]

    assert _release(tmp_path, files) == reason


def test_the_declared_aggregate_is_released_as_the_nodes_own_encoding(tmp_path: Path) -> None:
    sloppy = b'{ "parameters": {"weights": [[0.1, 0.2, 0.30000000000000004], [1, 2, 3]]},\n "metrics": ' \
             b'{"items": 4, "accuracy": 0.81250000000000011}}'  # fmt: skip

    released = _release(tmp_path, {"result.json": sloppy})

    assert isinstance(released, Aggregate) and released.epsilon == 0.0
    assert released.data == (
        b'{"metrics":{"accuracy":0.8125,"items":4.0},"parameters":{"weights":[[0.1,0.2,0.3],[1.0,2.0,3.0]]}}'
    )


def test_low_bits_of_floats_carry_nothing_out(tmp_path: Path) -> None:
    # Prepare: 6 floats whose 17 significant digits would carry 6 × ~7 bytes of an item
    smuggled = [float(int.from_bytes(ITEM[i * 6 : i * 6 + 6], "big")) / 2**48 for i in range(6)]
    doc = {"parameters": {"weights": [smuggled[:3], smuggled[3:]]}}

    released = _release(tmp_path, _result(doc))

    assert isinstance(released, Aggregate)
    values = json.loads(released.data)["parameters"]["weights"]
    assert all(len(repr(v).lstrip("0.").rstrip("0")) <= 6 for row in values for v in row)
    assert values != doc["parameters"]["weights"]


def test_an_aggregate_over_its_share_of_the_data_is_withheld(tmp_path: Path) -> None:
    tight = ReleasePolicy(mode="open", metrics=("accuracy", "items"), parameters={"weights": (2, 3)},
                          budget_fraction=0.01)  # fmt: skip

    assert _release(tmp_path, _result(GOOD), tight) == (
        "the aggregate is 98 bytes, over its budget of 28 bytes (0.01 of the data)"
    )


def test_laplace_noise_hides_small_pieces_and_costs_epsilon(tmp_path: Path) -> None:
    pieces = [list(map(float, ITEM[0:3])), list(map(float, ITEM[3:6]))]  # 6 bytes of an item, in the shape
    noisy = ReleasePolicy(mode="open", metrics=(), parameters={"weights": (2, 3)}, mechanism="laplace",
                          epsilon=0.5, bounds=(0.0, 255.0), epsilon_budget=2.0)  # fmt: skip

    released = _release(tmp_path, _result({"parameters": {"weights": pieces}}), noisy)

    assert isinstance(released, Aggregate) and released.epsilon == 0.5
    values = np.array(json.loads(released.data)["parameters"]["weights"])
    assert np.abs(values - np.array(pieces)).mean() > 255  # scale 255 × 6 / 0.5 per value: the bytes are gone


def test_an_open_algorithms_log_says_only_how_it_ended() -> None:
    log = (
        b"leaking "
        + base64.b64encode(ITEM)
        + b"\nTraceback (most recent call last):\nValueError: "
        + ITEM[:40].hex().encode()
    )

    assert (
        open_log(log)
        == "[log withheld: an open algorithm releases only its aggregate; the job ended with ValueError]"
    )


def test_with_noise_numbers_are_clipped_so_amplifying_the_data_carries_nothing(tmp_path: Path) -> None:
    # Prepare: two jobs hide different bytes, scaled far beyond the noise, in the declared shape
    noisy = ReleasePolicy(mode="open", metrics=(), parameters={"weights": (2, 3)}, mechanism="laplace",
                          epsilon=0.5, bounds=(0.0, 1.0), epsilon_budget=2.0)  # fmt: skip
    releases = []
    for k, item in enumerate(ITEMS[:2]):
        loud = [[b * 1e9 for b in item[0:3]], [b * 1e9 for b in item[3:6]]]
        (tmp_path / str(k)).mkdir()
        releases.append(_release(tmp_path / str(k), _result({"parameters": {"weights": loud}}), noisy))
    # Assert: clipped into [0, 1] first, with the same noise draw they are the same bytes
    assert isinstance(releases[0], Aggregate) and isinstance(releases[1], Aggregate)
    assert ITEMS[0][:6] != ITEMS[1][:6] and releases[0].data == releases[1].data


def test_a_withheld_reason_never_repeats_what_the_job_named(tmp_path: Path) -> None:
    secret = base64.b64encode(ITEM).decode()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()

    as_key = _release(tmp_path / "a", _result({"metrics": {secret: 1.0}, "parameters": {secret: [1]}}))
    as_file = _release(tmp_path / "b", {f"{ITEM[:50].hex()}.json": b"{}"})

    assert isinstance(as_key, str) and isinstance(as_file, str)
    assert secret[:8] not in as_key and ITEM[:4].hex() not in as_file
