"""`datacoop demo` as a user runs it: a subprocess on a fresh folder, its one JSON object checked for sense.

The demo generates data with a known truth, so every number it prints can be
checked against another: what was submitted, what pre-screening and review
rejected, what was paid on chain, what the frozen dataset holds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import REPO

from datacoop.demo import DemoOptions, run_demo
from datacoop.errors import InvalidInput

ITEMS = 300  # the default: CI runs the README's command as it stands
REWARD = 10**18


def _demo(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATACOOP_")}
    command = [sys.executable, "-m", "datacoop", "demo", *args]
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")  # the xdist group keeps every demo test on one worker: one run for all
def summary(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("demo") / "node"
    done = _demo("--seed", "3", "--data-dir", str(folder), "--json", timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.mark.slow
@pytest.mark.xdist_group("demo")  # one demo run per module, not one per xdist worker
@pytest.mark.timeout(900)  # the first test runs the demo (300 items) for all three
def test_every_bad_kind_is_rejected_and_every_good_item_is_kept(summary: dict[str, Any]) -> None:
    submitted = summary["submitted"]["by_kind"]
    assert sum(submitted.values()) == summary["submitted"]["items"] == ITEMS
    prescreen = summary["prescreen"]["rejected_by_kind"]
    for kind in ("exact_duplicate", "near_duplicate", "blurry", "corrupt"):
        assert 0 < prescreen.get(kind, 0) <= submitted[kind], (kind, summary["prescreen"])
    assert "good" not in prescreen and "off_topic" not in prescreen
    reasons = summary["prescreen"]["rejected_by_reason"]
    assert reasons["decode"] == prescreen["corrupt"] and reasons["quality"] == prescreen["blurry"]
    # off-topic items pass the automatic checks (no image model here, as the demo says); review rejects them
    assert summary["prescreen"]["relevance"].startswith("not scored")
    final = summary["review"]["final_by_kind"]
    assert final["off_topic"].get("reject", 0) > 0
    review = summary["review"]
    assert review["undecided"] == 0 and review["decided"] == summary["prescreen"]["to_review"] > 0
    assert review["votes_per_item"] >= 3 and 0.8 <= review["accuracy"] <= 1.0
    assert review["by_consensus"] + review["escalated"] == review["decided"]
    # validators decide (issue 20): the requester, right only as often as stated, gets what stays unsure
    assert review["requester_decided"] == review["escalated"]
    assert review["escalated_share"] == review["escalated"] / review["items"] <= 0.10
    assert review["validator_accuracy"] >= 0.95 and review["requester_stated_accuracy"] < 1.0
    careless = [v for v in review["validators"] if v["accuracy"] < 0.9]
    assert careless and all(v["gold_answered"] >= 4 for v in review["validators"])


@pytest.mark.slow
@pytest.mark.xdist_group("demo")  # one demo run per module, not one per xdist worker
@pytest.mark.timeout(900)  # the first test runs the demo (300 items) for all three
def test_each_contributor_is_paid_exactly_for_their_accepted_items(summary: dict[str, Any]) -> None:
    settlement = summary["settlement"]
    assert settlement["status"] == "confirmed" and settlement["tx_hash"]
    accepted = sum(answers.get("accept", 0) for answers in summary["review"]["final_by_kind"].values())
    assert settlement["accepted"] == accepted > 0
    for payout in settlement["payouts"]:
        gained = int(payout["after"]) - int(payout["before"])
        assert gained == int(payout["gained"]) == payout["accepted"] * REWARD, payout
    assert int(settlement["paid_total"]) == int(settlement["total"]) == accepted * REWARD


@pytest.mark.slow
@pytest.mark.xdist_group("demo")  # one demo run per module, not one per xdist worker
@pytest.mark.timeout(900)  # the first test runs the demo (300 items) for all three
def test_the_dataset_holds_the_accepted_items_is_anchored_verified_and_exported(
    summary: dict[str, Any],
) -> None:
    dataset = summary["dataset"]
    assert dataset["items"] == summary["settlement"]["accepted"]
    assert (dataset["anchor"]["before"], dataset["anchor"]["status"]) == ("pending", "confirmed")
    assert dataset["anchor"]["token_id"] is not None and dataset["anchor"]["tx_hash"]
    assert dataset["verified"] and dataset["verify_failures"] == []
    assert {"webdataset", "parquet", "croissant"} <= set(dataset["exports"]) | set(dataset["exports_skipped"])
    for name, export in dataset["exports"].items():
        assert export["items"] == dataset["items"], name
        assert export["files"] and all(Path(f).is_file() for f in export["files"]), name
    exports = Path(summary["data_dir"]) / "exports"
    if "croissant" in dataset["exports"]:
        assert (exports / "croissant" / "croissant.json").is_file()


def test_bad_input_is_refused_naming_the_field(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as too_few:
        run_demo(DemoOptions(data_dir=tmp_path / "a", items=3))
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "keep.txt").write_text("mine")
    with pytest.raises(InvalidInput) as occupied:
        run_demo(DemoOptions(data_dir=tmp_path / "b"))
    assert (too_few.value.field, too_few.value.limit) == ("items", "12..2000")
    assert "between 12 and 2000, got 3" in too_few.value.message
    assert occupied.value.field == "data_dir" and "not empty" in occupied.value.message
    assert (tmp_path / "b" / "keep.txt").read_text() == "mine" and not (tmp_path / "a").exists()
