"""Release modes through the buyer's and the publisher's API, on SQLite and PostgreSQL.

Done-when: a good approved algorithm's outputs are released; an unapproved one does not run; a
good open algorithm's aggregate is released; the same open algorithm returning raw pixels is
withheld with the reason shown; ε is accounted per buyer and dataset; only the publisher sets
the policy.
"""

from __future__ import annotations

import hashlib
import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from tests.unit.compute.world import labelled_images, make_version

from datacoop.app import Node
from datacoop.client import DataCoopClient
from datacoop.compute.licences import DatabaseLicences
from datacoop.compute.schemas import JobPublic
from datacoop.db.models import PrivacySpend
from datacoop.errors import DataCoopError, Forbidden

OPEN = """
import json, os
import numpy as np
from PIL import Image

def run(data_dir, out_dir):
    index = json.load(open(os.path.join(data_dir, "index.json")))
    rows = {"red": [], "blue": []}
    for item in index:
        pixels = np.asarray(Image.open(os.path.join(data_dir, item["file"])).convert("RGB"), dtype=float)
        rows[item["labels"]["tags"][0]].append(pixels.mean(axis=(0, 1)))
        if RAW:  # the same algorithm, carrying the pixels out beside its aggregate
            np.save(os.path.join(out_dir, os.path.basename(item["file"]) + ".npy"), pixels.astype(np.uint8))
    means = [np.mean(rows["red"], axis=0).tolist(), np.mean(rows["blue"], axis=0).tolist()]
    result = {"metrics": {"items": len(index)}, "parameters": {"mean_rgb": means}}
    json.dump(result, open(os.path.join(out_dir, "result.json"), "w"))
"""
OPEN_POLICY = {"mode": "open", "metrics": ["items"], "parameters": {"mean_rgb": [2, 3]}}


@pytest.fixture
def version_id(node: Node, requester: DataCoopClient, contributor: DataCoopClient) -> int:
    """A version published by the requester (its dataset's owner), of 6 small labelled PNGs."""
    return make_version(node, requester, contributor, labelled_images(6, seed=1), owned=True)


@pytest.fixture(autouse=True)
def licensed(node: Node, version_id: int, make_buyer_account: Any, clock: Any) -> None:
    with node.db.transaction() as s:
        buyer = make_buyer_account.address
        DatabaseLicences.grant(
            s, version_id=version_id, buyer=buyer, unit="job", price=0, source="test", now=clock()
        )


def _set_policy(client: DataCoopClient, version_id: int, policy: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = client._request("PUT", f"/compute/policies/{version_id}", json=policy).json()
    return answer


def _algorithm(tmp_path: Path, source: str, name: str = "algorithm.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return path


def _run(node: Node, buyer: DataCoopClient, version_id: int, path: Path) -> JobPublic:
    job = buyer.compute_submit(version_id, path, requirements=["numpy", "pillow"])
    assert node.compute.work_once("test-worker")
    return buyer.compute_job(job.id)


def test_a_good_open_algorithms_aggregate_is_released(
    node: Node, requester: DataCoopClient, buyer: DataCoopClient, version_id: int, tmp_path: Path
) -> None:
    _set_policy(requester, version_id, OPEN_POLICY)

    job = _run(node, buyer, version_id, _algorithm(tmp_path, "RAW = False\n" + OPEN))

    assert (job.outcome, job.reason, [o.name for o in job.outputs]) == ("released", None, ["result.json"])
    result = json.loads(buyer.compute_fetch(job.id, tmp_path / "got")[0].read_text())
    red, blue = result["parameters"]["mean_rgb"]
    assert red[0] > red[2] + 80 and blue[2] > blue[0] + 80 and result["metrics"] == {"items": 6.0}
    assert job.log == "[log withheld: an open algorithm releases only its aggregate]"
    assert job.seconds is not None and job.seconds == int(job.seconds)  # whole seconds: no timing channel


def test_the_same_open_algorithm_returning_raw_pixels_is_withheld(
    node: Node, requester: DataCoopClient, buyer: DataCoopClient, version_id: int, tmp_path: Path
) -> None:
    _set_policy(requester, version_id, OPEN_POLICY)

    job = _run(node, buyer, version_id, _algorithm(tmp_path, "RAW = True\n" + OPEN))

    assert job.outcome == "withheld" and job.outputs == []
    assert job.reason == "an open algorithm may release only 'result.json' (it wrote 7 file(s) in all)"


def test_a_version_nobody_set_is_open_and_releases_no_raw_output(
    node: Node, buyer: DataCoopClient, version_id: int, tmp_path: Path
) -> None:
    job = _run(node, buyer, version_id, _algorithm(tmp_path, "RAW = False\n" + OPEN))

    assert job.outcome == "withheld"
    assert job.reason == "1 parameter name(s) are not declared (declared: none)"


def test_only_approved_algorithms_run_and_their_outputs_are_released(
    node: Node, requester: DataCoopClient, buyer: DataCoopClient, version_id: int, tmp_path: Path
) -> None:
    # Prepare: the publisher approves one algorithm by its sha256
    good = _algorithm(tmp_path, "RAW = True\n" + OPEN)
    other = _algorithm(tmp_path, "RAW = False\n" + OPEN, "other.py")
    digest = hashlib.sha256(good.read_bytes()).hexdigest()
    assert (
        _set_policy(requester, version_id, {"mode": "approved", "approved": [digest]})["mode"] == "approved"
    )
    # Execute
    job = _run(node, buyer, version_id, good)
    with pytest.raises(Forbidden) as refused:
        buyer.compute_submit(version_id, other, requirements=["numpy", "pillow"])
    # Assert: the approved one's outputs (raw pixels included: the publisher approved it) are released
    assert job.outcome == "released" and len(job.outputs) == 7
    other_digest = hashlib.sha256(other.read_bytes()).hexdigest()
    assert refused.value.message == (
        f"algorithm sha256 {other_digest} is not approved by the publisher of dataset version {version_id}"
    )


def test_privacy_budget_is_spent_per_buyer_and_dataset(
    node: Node, requester: DataCoopClient, buyer: DataCoopClient, version_id: int, tmp_path: Path
) -> None:
    dp = {**OPEN_POLICY, "mechanism": "laplace", "epsilon": 0.5, "bounds": [0, 255], "epsilon_budget": 1.0}
    _set_policy(requester, version_id, dp)
    path = _algorithm(tmp_path, "RAW = False\n" + OPEN)

    jobs = [_run(node, buyer, version_id, path) for _ in range(2)]
    with pytest.raises(Forbidden) as spent:
        buyer.compute_submit(version_id, path, requirements=["numpy", "pillow"])

    assert [j.outcome for j in jobs] == ["released", "released"]
    assert spent.value.message == (
        "your privacy budget for this dataset is spent (ε 1 of 1 used; a job takes 0.5)"
    )
    with node.db.transaction() as s:
        assert [row.epsilon for row in s.scalars(select(PrivacySpend))] == [0.5, 0.5]


def test_only_the_publisher_sets_the_policy(
    buyer: DataCoopClient, requester: DataCoopClient, version_id: int
) -> None:
    with pytest.raises(Forbidden) as refused:
        _set_policy(buyer, version_id, OPEN_POLICY)
    with pytest.raises(DataCoopError) as invalid:  # approved mode with nothing approved
        _set_policy(requester, version_id, {"mode": "approved"})

    assert (
        refused.value.message
        == f"only the publisher of dataset version {version_id} may set its release policy"
    )
    assert invalid.value.http_status == 422
    assert buyer._request("GET", f"/compute/policies/{version_id}").json()["mode"] == "open"


def test_a_queued_algorithm_whose_approval_is_withdrawn_does_not_run(
    node: Node, requester: DataCoopClient, buyer: DataCoopClient, version_id: int, tmp_path: Path
) -> None:
    path = _algorithm(tmp_path, "RAW = False\n" + OPEN)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    _set_policy(requester, version_id, {"mode": "approved", "approved": [digest]})
    job = buyer.compute_submit(version_id, path, requirements=["numpy", "pillow"])

    _set_policy(requester, version_id, {"mode": "approved", "approved": ["0" * 64]})
    assert node.compute.work_once("test-worker")

    done = buyer.compute_job(job.id)
    assert (done.outcome, done.outputs) == ("withheld", [])
    assert done.reason == f"the publisher no longer approves algorithm sha256 {digest}; it was not run"
