"""Submissions over the API: every refusal is a 4xx JSON error naming the field."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from tests.conftest import ManualClock
from tests.unit.api.conftest import signed_body, task_body

from datacoop.client import DataCoopClient
from datacoop.tasks.schemas import TaskPublic


def _auth(client: DataCoopClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {client._token}"}


@pytest.fixture
def cid(contributor: DataCoopClient) -> str:
    return contributor.upload(b"\xff\xd8 a photo of a mask \xff\xd9").cid


def _post(api: TestClient, who: DataCoopClient, task_id: int, body: dict[str, Any]) -> Any:
    return api.post(f"/v1/tasks/{task_id}/submissions", json=body, headers=_auth(who))


def test_a_signed_submission_is_received(
    api: TestClient, contributor: DataCoopClient, bob: LocalAccount, task: TaskPublic, cid: str
) -> None:
    # Execute
    r = _post(api, contributor, task.id, signed_body(contributor, bob, task.id, cid, task.consent_hash))
    # Assert
    assert r.status_code == 201, r.text
    sub = r.json()
    assert (sub["state"], sub["cid"], sub["contributor"]) == ("received", cid, bob.address)
    assert sub["contributor_did"] == f"did:pkh:eip155:31337:{bob.address}"
    assert sub["history"][0]["to_state"] == "received"
    assert contributor.get_submission(sub["id"]).digest == sub["digest"]


def test_sdk_submit_round_trip(contributor: DataCoopClient, task: TaskPublic, cid: str) -> None:
    sub = contributor.submit(task.id, cid, "ke")
    assert sub.jurisdiction == "KE"
    assert [s.id for s in contributor.my_submissions()] == [sub.id]


def test_signed_by_one_key_sent_by_another_session_is_refused(
    api: TestClient, contributor: DataCoopClient, requester: DataCoopClient, bob: LocalAccount,
    task: TaskPublic, cid: str,
) -> None:  # fmt: skip
    body = signed_body(contributor, bob, task.id, cid, task.consent_hash)
    r = _post(api, requester, task.id, body)  # alice's session carries bob's signature
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "bad_signature"
    assert r.json()["error"]["field"] == "signature"


def test_nonce_replay_is_refused(
    api: TestClient, contributor: DataCoopClient, bob: LocalAccount, task: TaskPublic, cid: str
) -> None:
    body = signed_body(contributor, bob, task.id, cid, task.consent_hash, nonce=42)
    assert _post(api, contributor, task.id, body).status_code == 201
    replay = _post(api, contributor, task.id, body)
    other_cid = contributor.upload(b"another photo").cid
    same_nonce = _post(
        api,
        contributor,
        task.id,
        signed_body(contributor, bob, task.id, other_cid, task.consent_hash, nonce=42),
    )
    for r in (replay, same_nonce):
        assert r.status_code == 409, r.text
        assert r.json()["error"]["code"] == "replayed_nonce"
        assert r.json()["error"]["field"] == "nonce"


def test_expired_signature_deadline_is_refused(
    api: TestClient,
    contributor: DataCoopClient,
    bob: LocalAccount,
    task: TaskPublic,
    cid: str,
    clock: ManualClock,
) -> None:
    body = signed_body(
        contributor, bob, task.id, cid, task.consent_hash, deadline=int(clock.now.timestamp()) - 1
    )
    r = _post(api, contributor, task.id, body)
    assert (r.status_code, r.json()["error"]["field"]) == (410, "deadline")


def test_unknown_cid_is_refused(
    api: TestClient, contributor: DataCoopClient, bob: LocalAccount, task: TaskPublic
) -> None:
    from datacoop.cid import cid_of_bytes

    never_uploaded = cid_of_bytes(b"never uploaded")
    r = _post(
        api, contributor, task.id, signed_body(contributor, bob, task.id, never_uploaded, task.consent_hash)
    )
    assert (r.status_code, r.json()["error"]["field"]) == (404, "cid")
    bad = signed_body(contributor, bob, task.id, never_uploaded, task.consent_hash)
    bad["cid"] = "../../etc/passwd"
    r = _post(api, contributor, task.id, bad)
    assert (r.status_code, r.json()["error"]["field"]) == (400, "cid")


def test_signature_for_another_task_is_refused(
    api: TestClient, contributor: DataCoopClient, requester: DataCoopClient, bob: LocalAccount,
    task: TaskPublic, cid: str,
) -> None:  # fmt: skip
    other = requester.create_task(task_body(title="Ventilation ducts in confined spaces"))
    body = signed_body(contributor, bob, task.id, cid, task.consent_hash)
    r = _post(api, contributor, other.id, body)
    assert r.status_code == 401
    assert r.json()["error"]["field"] == "signature"
    missing = _post(api, contributor, 999, body)
    assert (missing.status_code, missing.json()["error"]["field"]) == (404, "task_id")


def test_closed_task_is_refused(
    api: TestClient, contributor: DataCoopClient, requester: DataCoopClient, bob: LocalAccount,
    task: TaskPublic, cid: str,
) -> None:  # fmt: skip
    api.post(f"/v1/tasks/{task.id}/close", headers=_auth(requester))
    r = _post(api, contributor, task.id, signed_body(contributor, bob, task.id, cid, task.consent_hash))
    assert (r.status_code, r.json()["error"]["field"]) == (410, "task_id")


def test_task_past_its_deadline_is_refused(
    api: TestClient, contributor: DataCoopClient, requester: DataCoopClient, bob: LocalAccount, cid: str,
    clock: ManualClock,
) -> None:  # fmt: skip
    from datetime import timedelta

    task = requester.create_task(task_body(deadline=clock.now + timedelta(hours=1)))
    clock.advance(hours=2)  # past the task's deadline, inside the session's lifetime
    body = signed_body(
        contributor, bob, task.id, cid, task.consent_hash, deadline=int(clock.now.timestamp()) + 60
    )
    r = _post(api, contributor, task.id, body)
    assert (r.status_code, r.json()["error"]["field"]) == (410, "task_id")


def test_consent_and_jurisdiction_must_fit_the_task(
    api: TestClient, contributor: DataCoopClient, requester: DataCoopClient, bob: LocalAccount, cid: str
) -> None:
    kenya_only = requester.create_task(task_body(allowed_jurisdictions=["KE", "ng"]))
    assert kenya_only.allowed_jurisdictions == ["KE", "NG"]
    wrong_consent = signed_body(contributor, bob, kenya_only.id, cid, "0x" + "ab" * 32)
    r = _post(api, contributor, kenya_only.id, wrong_consent)
    assert (r.status_code, r.json()["error"]["field"]) == (400, "consent_hash")
    from_india = signed_body(contributor, bob, kenya_only.id, cid, kenya_only.consent_hash, jurisdiction="IN")
    r = _post(api, contributor, kenya_only.id, from_india)
    assert (r.status_code, r.json()["error"]["field"]) == (403, "jurisdiction")
    not_a_country = signed_body(contributor, bob, kenya_only.id, cid, kenya_only.consent_hash)
    not_a_country["jurisdiction"] = "ZZ"
    r = _post(api, contributor, kenya_only.id, not_a_country)
    assert (r.status_code, r.json()["error"]["field"]) == (400, "jurisdiction")


def test_tampered_field_breaks_the_signature(
    api: TestClient, contributor: DataCoopClient, bob: LocalAccount, task: TaskPublic, cid: str
) -> None:
    body = signed_body(contributor, bob, task.id, cid, task.consent_hash)
    body["deadline"] += 1
    r = _post(api, contributor, task.id, body)
    assert (r.status_code, r.json()["error"]["code"]) == (401, "bad_signature")


def test_state_moves_only_along_the_table(
    node: Any, contributor: DataCoopClient, task: TaskPublic, cid: str
) -> None:
    from datacoop.errors import InvalidTransition
    from datacoop.tasks.states import SubmissionState

    sub = contributor.submit(task.id, cid, "KE")
    with pytest.raises(InvalidTransition):
        node.submissions.transition(sub.id, SubmissionState.ACCEPTED)
    node.submissions.transition(sub.id, SubmissionState.SCREENING, reason="pre-screen started")
    done = node.submissions.transition(sub.id, SubmissionState.IN_REVIEW, reason="passed every check")
    assert [h.to_state for h in done.history] == ["received", "screening", "in_review"]
    assert contributor.get_submission(sub.id).history[-1].reason == "passed every check"
