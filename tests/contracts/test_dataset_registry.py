"""DatasetRegistry: one ERC-721 per dataset and its append-only versions."""

from __future__ import annotations

from typing import Any

import boa
import pytest

CID = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"
ROOT = b"\x33" * 32


def events(contract: Any, name: str) -> list[Any]:
    return [log for log in contract.get_logs() if type(log).__name__ == name]


def test_a_publisher_creates_its_dataset_token(registry: Any, publisher: str) -> None:
    first = registry.createDataset(publisher, sender=publisher)
    (created,) = events(registry, "DatasetCreated")
    second = registry.createDataset(publisher, sender=publisher)
    assert (first, second) == (1, 2)
    assert (created.tokenId, created.publisher) == (1, publisher)
    assert registry.ownerOf(1) == publisher
    assert registry.balanceOf(publisher) == 2
    assert registry.datasetCount() == 2
    assert registry.tokenURI(1) == ""
    assert (registry.name(), registry.symbol()) == ("DataCoop Dataset", "DCDS")


def test_the_owner_may_create_a_dataset_for_a_publisher(registry: Any, admin: str, publisher: str) -> None:
    token_id = registry.createDataset(publisher, sender=admin)
    assert registry.ownerOf(token_id) == publisher


def test_nobody_else_creates_datasets_for_others(registry: Any, publisher: str, stranger: str) -> None:
    with boa.reverts("DatasetRegistry: not publisher or owner"):
        registry.createDataset(publisher, sender=stranger)


def test_snekmate_minting_and_burning_are_not_exposed(registry: Any) -> None:
    names = {item.get("name") for item in registry.abi}
    assert not names & {"safe_mint", "set_minter", "burn", "is_minter"}


def test_versions_are_appended_and_numbered_from_one(registry: Any, publisher: str) -> None:
    # Prepare
    token_id = registry.createDataset(publisher, sender=publisher)
    # Execute
    first = registry.publishVersion(token_id, CID, ROOT, 10, sender=publisher)
    (published,) = events(registry, "VersionPublished")
    boa.env.time_travel(seconds=60)
    second = registry.publishVersion(token_id, CID[:-1] + "e", b"\x44" * 32, 12, sender=publisher)
    # Assert
    assert (first, second) == (1, 2)
    assert (published.tokenId, published.version, published.manifestCid) == (token_id, 1, CID)
    assert (published.itemsRoot, published.itemCount) == (ROOT, 10)
    assert registry.versionCount(token_id) == 2
    v1, v2 = registry.version(token_id, 1), registry.version(token_id, 2)
    assert (v1.manifestCid, v1.itemsRoot, v1.itemCount) == (CID, ROOT, 10)
    assert v2.itemCount == 12 and v2.publishedAt == v1.publishedAt + 60
    assert registry.tokenURI(token_id) == "ipfs://" + CID[:-1] + "e"


@pytest.mark.parametrize("number", [0, 2])
def test_a_missing_version_reverts(registry: Any, publisher: str, number: int) -> None:
    token_id = registry.createDataset(publisher, sender=publisher)
    registry.publishVersion(token_id, CID, ROOT, 10, sender=publisher)
    with boa.reverts("DatasetRegistry: no such version"):
        registry.version(token_id, number)


def test_only_the_token_owner_publishes(registry: Any, publisher: str, admin: str, stranger: str) -> None:
    token_id = registry.createDataset(publisher, sender=publisher)
    for caller in (admin, stranger):
        with boa.reverts("DatasetRegistry: not the dataset owner"):
            registry.publishVersion(token_id, CID, ROOT, 10, sender=caller)
    with boa.reverts("erc721: invalid token ID"):
        registry.publishVersion(99, CID, ROOT, 10, sender=publisher)


def test_the_new_owner_publishes_after_a_transfer(registry: Any, publisher: str, stranger: str) -> None:
    token_id = registry.createDataset(publisher, sender=publisher)
    registry.transferFrom(publisher, stranger, token_id, sender=publisher)
    with boa.reverts("DatasetRegistry: not the dataset owner"):
        registry.publishVersion(token_id, CID, ROOT, 10, sender=publisher)
    assert registry.publishVersion(token_id, CID, ROOT, 10, sender=stranger) == 1


@pytest.mark.parametrize(
    ("cid", "root", "count", "reason"),
    [
        ("", ROOT, 1, "DatasetRegistry: manifest CID is empty"),
        (CID, b"\0" * 32, 1, "DatasetRegistry: items root is zero"),
        (CID, ROOT, 0, "DatasetRegistry: no items"),
    ],
)
def test_a_version_needs_a_cid_a_root_and_items(
    registry: Any, publisher: str, cid: str, root: bytes, count: int, reason: str
) -> None:
    token_id = registry.createDataset(publisher, sender=publisher)
    with boa.reverts(reason):
        registry.publishVersion(token_id, cid, root, count, sender=publisher)


def test_a_contract_publisher_cannot_reenter_while_its_token_is_minted(
    deployers: dict[str, Any], registry: Any
) -> None:
    """RELIABILITY E19: minting is the last step and the lock holds during the callback."""
    receiver = deployers["ReentrantReceiver"].deploy()
    receiver.arm(registry.address, registry.createDataset.prepare_calldata(receiver.address))
    receiver.execute(registry.address, registry.createDataset.prepare_calldata(receiver.address))
    assert receiver.reentered() and not receiver.reentrySucceeded()
    assert registry.datasetCount() == 1
    assert registry.balanceOf(receiver.address) == 1


def test_the_owner_anchors_the_audit_log_forward_only(registry: Any, admin: str, stranger: str) -> None:
    head = b"\x42" * 32
    registry.anchorAudit(5, head, sender=admin)
    (anchored,) = events(registry, "AuditAnchored")
    registry.anchorAudit(9, b"\x43" * 32, sender=admin)
    assert (anchored.seq, anchored.head) == (5, head)
    assert registry.auditAnchors(5) == head and registry.lastAuditSeq() == 9
    with boa.reverts("DatasetRegistry: audit anchors only move forward"):
        registry.anchorAudit(9, b"\x44" * 32, sender=admin)  # never rewritten
    with boa.reverts("DatasetRegistry: audit anchors only move forward"):
        registry.anchorAudit(7, b"\x44" * 32, sender=admin)
    with boa.reverts("DatasetRegistry: audit head is zero"):
        registry.anchorAudit(10, b"\x00" * 32, sender=admin)
    with boa.reverts("ownable: caller is not the owner"):
        registry.anchorAudit(10, head, sender=stranger)
