"""The copy of an item that anyone but its contributor sees: blurred or redacted where the task says so."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.conftest import make_account
from tests.data.make_corpus import astronaut, encode, gps_jpeg
from tests.unit.api.conftest import task_body

from datacoop.app import Node
from datacoop.client import DataCoopClient
from datacoop.db.models import Prescreen, StageResultRow


def test_a_blurred_copy_is_the_one_shown_beyond_the_contributor(
    node: Node, contributor: DataCoopClient, requester: DataCoopClient
) -> None:
    # Prepare: a task whose policy blurs faces, and a photo of a face
    blur = requester.create_task(task_body(rules={"stages": {"pii": {"faces": "blur"}}}))
    sid = contributor.submit(blur.id, contributor.upload(encode(astronaut())).cid, "KE").id
    # Execute
    while node.screening.work_once("w"):
        pass
    # Assert: the prescreen's shown copy is the pii stage's blurred one, not the merely scrubbed one
    with node.db.transaction() as s:
        shown = s.get(Prescreen, sid)
        artifacts = {
            r.stage: r.artifacts
            for r in s.scalars(select(StageResultRow).where(StageResultRow.submission_id == sid))
        }
    assert shown is not None and artifacts["pii"].get("blurred_cid")
    assert shown.scrubbed_cid == artifacts["pii"]["blurred_cid"] != artifacts["scrub"].get("scrubbed_cid")


def _auth(client: DataCoopClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {client._token}"}


def _screened(node: Node, contributor: DataCoopClient, task_id: int) -> tuple[int, str]:
    """A photo carrying GPS, camera and capture time, submitted and pre-screened: (its id, its raw CID)."""
    raw = contributor.upload(gps_jpeg()).cid
    sid = contributor.submit(task_id, raw, "KE").id
    while node.screening.work_once("w"):
        pass
    return sid, raw


def test_a_submission_is_shown_to_its_contributor_and_its_requester_only(
    node: Node, api: TestClient, sdk: Any, contributor: DataCoopClient, requester: DataCoopClient
) -> None:
    # Prepare
    task = requester.create_task(task_body())
    sid, raw = _screened(node, contributor, task.id)
    stranger = sdk(make_account(0x5EE))
    # Execute
    anonymous = api.get(f"/v1/submissions/{sid}")
    strangers = [api.get(f"/v1/submissions/{n}{tail}", headers=_auth(stranger))
                 for n in (sid, sid + 1000) for tail in ("", "/review", "/appeal")]  # fmt: skip
    own = contributor.get_submission(sid)
    seen_by_requester = requester.get_submission(sid)
    # Assert: nobody else learns that the id exists (the same 404 as an unknown id)
    assert anonymous.status_code == 401
    assert {(r.status_code, r.json()["error"]["field"]) for r in strangers} == {(404, "submission_id")}
    assert own.cid == raw and _scrub(own.details)["gps"] is True
    assert seen_by_requester.cid == _shared(node, sid) != raw
    shown = json.dumps(seen_by_requester.details)
    assert "Canon" not in shown and "gps" not in shown and "capture_time" not in shown
    assert _scrub(seen_by_requester.details) == {"method": "strip"}


def test_a_requester_cannot_turn_someone_elses_blob_into_a_gold_item(
    node: Node, api: TestClient, contributor: DataCoopClient, requester: DataCoopClient
) -> None:
    # Prepare: the contributor's original (GPS and all) is stored; its CID is known
    task = requester.create_task(task_body())
    sid, raw = _screened(node, contributor, task.id)
    # Execute
    attempts = [
        api.post(f"/v1/tasks/{task.id}/gold", json={"cid": cid, "answer": "accept"}, headers=_auth(requester))
        for cid in (raw, _shared(node, sid))
    ]
    own = requester.add_gold(task.id, requester.upload(b"the requester's own gold item").cid, "accept")
    # Assert: only the requester's own upload becomes gold; the rest answers like an unknown blob
    assert [(r.status_code, r.json()["error"]["field"]) for r in attempts] == [(404, "cid"), (404, "cid")]
    listed = api.get(f"/v1/tasks/{task.id}/gold", headers=_auth(requester)).json()
    assert [g["id"] for g in listed] == [own.id]


def _shared(node: Node, sid: int) -> str:
    with node.db.transaction() as s:
        row = s.get(Prescreen, sid)
        assert row is not None and row.scrubbed_cid is not None
        return row.scrubbed_cid


def _scrub(details: dict[str, Any]) -> dict[str, Any]:
    stage = next(st for st in details["prescreen"]["stages"] if st["stage"] == "scrub")
    found: dict[str, Any] = stage["details"]
    return found
