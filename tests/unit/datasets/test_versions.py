"""Versions end to end on a real node: freeze, verify, tamper, withdraw, prove, refuse bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from tests.conftest import make_account
from tests.unit.datasets.conftest import Accepted

from datacoop.cid import cid_of_bytes
from datacoop.client import DataCoopClient
from datacoop.datasets.manifest import Manifest, ManifestItem, canonical_json
from datacoop.datasets.signatures import domain_from_manifest, item_digest
from datacoop.datasets.verify import check_proof, directory_blobs, verify_manifest
from datacoop.errors import Conflict, Forbidden, InvalidInput, NotAuthenticated
from datacoop.identity.eip712 import sign_typed


def _freeze(requester: DataCoopClient, accepted: Accepted) -> tuple[int, int, bytes]:
    dataset = requester.create_dataset("masks", {"task_ids": [accepted.task.id]})
    version = requester.create_dataset_version(dataset.id)
    return dataset.id, version.id, requester.dataset_manifest(version.id)


def _failed(report_checks: list[object]) -> list[tuple[str, int | None]]:
    return [(c.name, c.index) for c in report_checks]  # type: ignore[attr-defined]


def _blob_copy(accepted: Accepted, manifest: Manifest, folder: Path) -> Path:
    folder.mkdir()
    for item in manifest.iter_items():
        with accepted.node.store.open(item.cid) as src, (folder / item.cid).open("wb") as dst:
            shutil.copyfileobj(src, dst)
    return folder


def test_a_version_lists_every_item_and_verifies(requester: DataCoopClient, accepted: Accepted) -> None:
    # Execute
    _dataset_id, version_id, data = _freeze(requester, accepted)
    # Assert
    manifest = Manifest.from_bytes(data)
    version = requester.dataset_version(version_id)
    assert cid_of_bytes(data) == version.manifest_cid and manifest.to_bytes() == data
    assert [i.submission_id for i in manifest.items] == accepted.ids and manifest.item_count == 3
    first = manifest.items[0]
    assert first.media_type == "image/jpeg" and first.quality["sharpness"] == 101.0
    assert first.review == {"outcome": "accepted", "auto": True} and first.licence == "CC-BY-4.0"
    assert (
        first.contributor
        == f"did:pkh:eip155:{manifest.eip712_domain['chainId']}:{accepted.contributor.account.address}"
    )  # type: ignore[union-attr]
    assert manifest.changes == {"added": accepted.ids, "removed": []} and manifest.previous is None
    assert version.anchor.status == "off" and "not anchored" in version.anchor.meaning
    report = verify_manifest(data, blobs=directory_blobs(accepted.node.settings.data_dir))
    assert report.ok, report.failures
    assert report.to_json()["checked"] == {"manifest": 2, "signature": 3, "blob": 3, "root": 1, "chain": 0}


def test_verify_detects_a_changed_byte_in_any_blob(
    requester: DataCoopClient, accepted: Accepted, tmp_path: Path
) -> None:
    # Prepare
    _d, _v, data = _freeze(requester, accepted)
    manifest = Manifest.from_bytes(data)
    folder = _blob_copy(accepted, manifest, tmp_path / "blobs")
    for item in manifest.iter_items():
        path = folder / item.cid
        original = path.read_bytes()
        changed = bytearray(original)
        changed[len(changed) // 2] ^= 0x01
        path.write_bytes(bytes(changed))
        # Execute
        report = verify_manifest(data, blobs=directory_blobs(folder))
        # Assert: exactly that blob fails
        assert _failed(report.failures) == [("blob", item.index)]
        path.write_bytes(original)
    assert verify_manifest(data, blobs=directory_blobs(folder)).ok


def test_verify_detects_a_changed_label(requester: DataCoopClient, accepted: Accepted) -> None:
    _d, _v, data = _freeze(requester, accepted)
    parsed = json.loads(data)
    parsed["items"][1]["labels"] = {"tags": ["cat"]}
    report = verify_manifest(canonical_json(parsed))
    assert not report.ok
    assert ("root", None) in _failed(report.failures)
    assert all(c.ok for c in report.checks if c.name == "signature")  # the signature does not cover labels


def test_verify_detects_a_forged_signature(requester: DataCoopClient, accepted: Accepted) -> None:
    # Prepare: someone else signs item 2's very message, and the manifest is re-rooted to hide it
    _d, _v, data = _freeze(requester, accepted)
    manifest = Manifest.from_bytes(data)
    mallory = make_account(0xBAD)
    digest = item_digest(domain_from_manifest(manifest.eip712_domain), manifest.items[2])
    forged_sig = "0x" + bytes(mallory.unsafe_sign_hash(digest).signature).hex()
    items = list(manifest.items)
    items[2] = ManifestItem(**{**items[2].to_json(), "signature": forged_sig})
    forged = Manifest.create(
        items=items,
        **{
            k: v
            for k, v in manifest.to_json().items()
            if k not in ("items", "items_root", "item_count", "schema")
        },
    )
    # Execute
    report = verify_manifest(forged.to_bytes())
    # Assert
    assert _failed(report.failures) == [("signature", 2)]
    assert mallory.address in report.failures[0].detail


def test_signature_digest_equals_the_wallets(accepted: Accepted, bob: LocalAccount) -> None:
    from datacoop.identity.eip712 import SubmissionMessage, digest_typed

    domain = accepted.node.eip712
    cid = cid_of_bytes(b"x")
    message = SubmissionMessage(
        contributor=bob.address,
        task_id=4,
        cid=cid,
        consent_hash="0x" + "ab" * 32,
        jurisdiction="KE",
        nonce=9,
        deadline=10**10,
    )
    signature = sign_typed(bob.key, message.to_typed_data(domain))
    item = ManifestItem(
        index=0,
        submission_id=1,
        cid=cid,
        original_cid_hash="0x" + keccak(text=cid).hex(),
        size=1,
        media_type="text/plain",
        labels={},
        quality={},
        contributor=f"did:pkh:eip155:{domain.chain_id}:{bob.address}",
        task_id=4,
        nonce=9,
        deadline=10**10,
        consent_hash="0x" + "ab" * 32,
        jurisdiction="KE",
        licence="x",
        signature=signature,
        review={},
    )
    assert item_digest(domain, item) == digest_typed(message.to_typed_data(domain))


def test_withdrawal_leaves_the_next_version_and_versions_are_immutable(
    requester: DataCoopClient, contributor: DataCoopClient, accepted: Accepted
) -> None:
    # Prepare
    dataset_id, v1_id, v1_bytes = _freeze(requester, accepted)
    added = accepted.add(1)
    # Execute
    contributor.withdraw(accepted.ids[0], reason="I changed my mind")
    v2 = requester.create_dataset_version(dataset_id)
    # Assert
    assert v2.number == 2 and v2.item_count == 3
    assert v2.changes == {
        "added": added,
        "removed": [{"submission_id": accepted.ids[0], "reason": "withdrawn by the contributor"}],
    }
    v2_manifest = Manifest.from_bytes(requester.dataset_manifest(v2.id))
    assert v2_manifest.previous == cid_of_bytes(v1_bytes)
    assert requester.dataset_manifest(v1_id) == v1_bytes  # the earlier version is untouched
    with pytest.raises(Conflict, match="nothing changed since version 2"):
        requester.create_dataset_version(dataset_id)
    with pytest.raises(Conflict, match="already withdrawn"):
        contributor.withdraw(accepted.ids[0])


def test_inclusion_proofs_check_on_their_own(requester: DataCoopClient, accepted: Accepted) -> None:
    _d, version_id, _data = _freeze(requester, accepted)
    proofs = [requester.dataset_proof(version_id, i) for i in range(3)]
    assert all(check_proof(p) for p in proofs)
    tampered = json.loads(json.dumps(proofs[1]))
    tampered["item"]["labels"] = {"tags": ["dog"]}
    assert not check_proof(tampered)
    assert not check_proof({**proofs[0], "proof": proofs[1]["proof"]})
    with pytest.raises(InvalidInput) as bad:
        check_proof({**proofs[0], "schema": "x"})
    assert bad.value.field == "schema"


def test_bad_input_names_the_field(
    requester: DataCoopClient, contributor: DataCoopClient, accepted: Accepted
) -> None:
    cases = [
        ({"task_ids": []}, "query.task_ids"),
        ({"task_ids": [accepted.task.id], "jurisdictions": ["UK"]}, "query.jurisdictions"),
        ({"task_ids": [accepted.task.id], "colour": "red"}, "query.colour"),
        (
            {"task_ids": [accepted.task.id], "created_from": "2030-01-02", "created_to": "2030-01-01"},
            "query.created_from",
        ),
    ]
    for query, field in cases:
        with pytest.raises(InvalidInput) as err:
            requester.create_dataset("x", query)
        assert err.value.field == field, query
    with pytest.raises(Forbidden):
        contributor.create_dataset("not mine", {"task_ids": [accepted.task.id]})
    empty = requester.create_dataset("none", {"task_ids": [accepted.task.id], "jurisdictions": ["FR"]})
    with pytest.raises(InvalidInput, match="selects no accepted item"):
        requester.create_dataset_version(empty.id)
    with pytest.raises(Forbidden):
        requester.withdraw(accepted.ids[0])
    with pytest.raises(NotAuthenticated):
        DataCoopClient(http=requester._http).withdraw(accepted.ids[0])


def test_manifest_reading_is_strict(requester: DataCoopClient, accepted: Accepted) -> None:
    _d, _v, data = _freeze(requester, accepted)
    parsed = json.loads(data)
    bad = [
        ({**parsed, "schema": "datacoop.manifest/9"}, "schema"),
        ({**parsed, "extra": 1}, "manifest.extra"),
        ({**parsed, "items": [{k: v for k, v in parsed["items"][0].items() if k != "cid"}]}, "items[0].cid"),
        ({**parsed, "items": [{**parsed["items"][0], "size": -1}]}, "items[0].size"),
        ({**parsed, "items": [{**parsed["items"][0], "jurisdiction": "Kenya"}]}, "items[0].jurisdiction"),
    ]
    for document, field in bad:
        with pytest.raises(InvalidInput) as err:
            Manifest.from_bytes(json.dumps(document).encode())
        assert err.value.field == field
    with pytest.raises(InvalidInput) as err:
        Manifest.from_bytes(b"\xff")
    assert err.value.field == "manifest"
