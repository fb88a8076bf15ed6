from __future__ import annotations

from datetime import timedelta

import pytest
from tests.unit.compute.world import labelled_images, make_version

from datacoop.app import Node
from datacoop.client import DataCoopClient
from datacoop.compute.licences import DatabaseLicences


@pytest.fixture
def version_id(node: Node, requester: DataCoopClient, contributor: DataCoopClient) -> int:
    """A version of 6 small labelled PNGs on the test node."""
    return make_version(node, requester, contributor, labelled_images(6, seed=1))


@pytest.fixture
def buyer(sdk, make_buyer_account) -> DataCoopClient:  # type: ignore[no-untyped-def]
    client: DataCoopClient = sdk(make_buyer_account)
    return client


@pytest.fixture
def make_buyer_account():  # type: ignore[no-untyped-def]
    from tests.conftest import make_account

    return make_account(0xB0FFE2)


@pytest.fixture
def licensed(node: Node, version_id: int, make_buyer_account, clock) -> int:  # type: ignore[no-untyped-def]
    """The buyer holds a per-job compute licence (price 3 tokens) for the version; its id."""
    with node.db.transaction() as s:
        row = DatabaseLicences.grant(
            s, version_id=version_id, buyer=make_buyer_account.address, unit="job", price=3 * 10**18,
            source="test", now=clock(), expires_at=clock() + timedelta(days=1),
        )  # fmt: skip
        return row.id
