"""Output checks, the raw-item fingerprints, the algorithm's admission and the signed links."""

from __future__ import annotations

import io
import os
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from datacoop.compute.algorithm import parse_algorithm
from datacoop.compute.fingerprints import Fingerprints, choose_window
from datacoop.compute.outputs import OutputLimits, check_outputs, scrub_log
from datacoop.compute.signing import OutputSigner
from datacoop.errors import Forbidden, Gone, InvalidInput, TooLarge

ALLOWED = ["numpy", "pillow", "scikit-learn"]


@pytest.mark.parametrize("offset", [0, 1, 4095, 4096, 10_000])
def test_a_copied_run_of_an_input_is_found_wherever_it_sits(offset: int) -> None:
    rng = np.random.default_rng(offset)
    item = rng.bytes(50_000)
    prints = Fingerprints(window=choose_window([len(item)]))
    prints.add("item", item)
    prints.seal()
    # two windows of the item at an unaligned offset, inside other bytes
    out = rng.bytes(offset) + item[1234 : 1234 + 2 * 4096] + rng.bytes(77)

    match = prints.find(out)

    assert match is not None and match.input_name == "item" and match.output_offset >= offset
    assert prints.find(rng.bytes(60_000)) is None


def test_small_inputs_are_compared_whole() -> None:
    prints = Fingerprints(window=choose_window([30, 5000]))
    prints.add("tiny", b"a tiny item of thirty bytes!!!")
    prints.add("big", os.urandom(5000))
    prints.seal()

    assert prints.window == 64
    assert prints.find(b"xx a tiny item of thirty bytes!!! yy") is not None


def test_outputs_are_checked_for_count_type_and_content(tmp_path: Path) -> None:
    prints = Fingerprints(window=64).seal()
    out = tmp_path / "out"
    out.mkdir()
    (out / "model.json").write_text('{"w": [1, 2]}')
    limits = OutputLimits(max_bytes=1000, max_files=2)
    assert check_outputs(out, limits, prints).released

    (out / "model.pkl").write_bytes(b"\x80\x04")
    assert "type .pkl is not one of" in (check_outputs(out, limits, prints).reason or "")
    (out / "model.pkl").unlink()
    (out / "bad.json").write_text("{not json")
    assert check_outputs(out, limits, prints).reason == "output 'bad.json' is not valid JSON"
    (out / "bad.json").unlink()
    (out / "link.txt").symlink_to("/etc/passwd")
    assert "is not a regular file" in (check_outputs(out, limits, prints).reason or "")


def test_the_log_hides_paths_and_never_shows_item_bytes(tmp_path: Path) -> None:
    item = os.urandom(1000)
    prints = Fingerprints(window=64)
    prints.add("item", item)
    prints.seal()

    assert scrub_log(f"{tmp_path}/x failed".encode(), tmp_path, prints, 100) == "<job>/x failed"
    assert scrub_log(b"dump: " + item, tmp_path, prints, 100).startswith("[log withheld")
    assert scrub_log(b"y" * 500, tmp_path, prints, 100).startswith("[... 400 characters cut ...]")


def test_a_package_needs_its_entry_point_and_stays_inside_itself() -> None:
    def package(files: dict[str, str]) -> bytes:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            for name, text in files.items():
                z.writestr(name, text)
        return buf.getvalue()

    ok = parse_algorithm(
        package({"main.py": "def run(data_dir, out_dir):\n    pass\n", "requirements.txt": "numpy>=1.26\n"}),
        "algo.zip", entry=None, requirements=[], allowed=ALLOWED,
    )  # fmt: skip
    assert (ok.entry, ok.requirements) == ("main:run", ("numpy",))
    with pytest.raises(InvalidInput, match="defines no top-level function train"):
        parse_algorithm(
            package({"main.py": "x = 1\n"}), "a.zip", entry="main:train", requirements=[], allowed=[]
        )
    with pytest.raises(InvalidInput, match="leaves the package"):
        parse_algorithm(package({"../evil.py": "x"}), "a.zip", entry=None, requirements=[], allowed=[])
    with pytest.raises(InvalidInput, match=r"must be a \.py file or a \.zip package"):
        parse_algorithm(b"x", "a.sh", entry=None, requirements=[], allowed=[])
    with pytest.raises(TooLarge) as too_large:
        parse_algorithm(b"#" * (1024**2 + 1), "a.py", entry=None, requirements=[], allowed=[])
    assert too_large.value.field == "algorithm" and too_large.value.limit == 1024**2


def test_a_signed_link_is_for_one_buyer_one_output_and_a_short_time() -> None:
    signer = OutputSigner(b"k" * 32, ttl=timedelta(minutes=10))
    now = datetime(2026, 1, 1, tzinfo=UTC)
    q = signer.sign(7, "model.json", "0xAbC0000000000000000000000000000000000001", now)
    expires, sig = int(q["expires"]), q["sig"]

    signer.verify(7, "model.json", q["buyer"], expires, sig, now + timedelta(minutes=9))
    with pytest.raises(Gone):
        signer.verify(7, "model.json", q["buyer"], expires, sig, now + timedelta(minutes=11))
    with pytest.raises(Forbidden):
        signer.verify(7, "model.json", "0x" + "2" * 40, expires, sig, now)
    with pytest.raises(Forbidden):
        signer.verify(7, "other.json", q["buyer"], expires, sig, now)
    with pytest.raises(Forbidden):
        signer.verify(7, "model.json", q["buyer"], expires + 3600, sig, now)
