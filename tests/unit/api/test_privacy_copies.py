"""The copy of an item that anyone but its contributor sees: blurred or redacted where the task says so."""

from __future__ import annotations

from sqlalchemy import select
from tests.data.make_corpus import astronaut, encode
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
