"""Listing terms are checked field by field; the search filters and the listing page, over the API."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.unit.datasets.conftest import Accepted

from datacoop.app import Node
from datacoop.client import DataCoopClient
from datacoop.db.models import Listing
from datacoop.errors import InvalidInput
from datacoop.exchange.listings import ListingTerms, terms_hash
from datacoop.tasks.schemas import TaskPublic

GOOD: dict[str, Any] = {"version_id": 1, "price": "1000", "licence": "CC-BY-4.0", "duration_s": 86_400}


@pytest.mark.parametrize(
    ("change", "field", "limit"),
    [
        ({"price": "0"}, "price", 2**96 - 1),
        ({"price": "12.5"}, "price", 2**96 - 1),
        ({"duration_s": 0}, "duration_s", 100 * 365 * 86_400),
        ({"royalty_bps": 9_800}, "royalty_bps", 9_750),  # 10000 minus the market's 250 fee
        ({"licence": ""}, "licence", 100),
        ({"licence": "custom"}, "terms_text", None),
        ({"access_modes": ["download", "torrent"]}, "access_modes", None),
        ({"jurisdictions": ["UK"]}, "jurisdictions", None),
        ({"data_category": "secret"}, "data_category", None),
        ({"title": "x" * 201}, "title", 200),
    ],
)
def test_bad_terms_name_the_field_and_the_limit(change: dict[str, Any], field: str, limit: Any) -> None:
    with pytest.raises(InvalidInput) as error:
        ListingTerms.parse(GOOD | change, operator_fee_bps=250)
    assert (error.value.field, error.value.limit) == (field, limit)


def test_terms_hash_covers_the_licence_and_its_text() -> None:
    terms = ListingTerms.parse(GOOD | {"jurisdictions": ["de", "*"]}, operator_fee_bps=250)
    assert terms.jurisdictions == ("DE", "*") and terms.access_modes == ("download",)
    assert terms_hash("CC-BY-4.0", "") != terms_hash("CC-BY-4.0", " ") != terms_hash("CC0-1.0", "")
    assert terms_hash("CC-BY-4.0", "") == terms_hash("CC-BY-4.0", "")


def _listing(node: Node, version_id: int, **fields: Any) -> int:
    now = node.exchange._clock()
    values: dict[str, Any] = {
        "version_id": version_id, "publisher_id": None, "title": "masks", "modality": "image",
        "item_count": 3, "size_bytes": 3_000, "origins": ["KE"], "token": "0x" + "11" * 20,
        "price": 1_000, "licence": "CC-BY-4.0", "terms_text": "", "terms_hash": "0x" + "22" * 32,
        "duration_s": 86_400, "royalty_bps": 3_000, "access_modes": ["download"], "jurisdictions": ["*"],
        "data_category": "personal", "consent_scope": "general", "status": "listed",
        "created_at": now, "updated_at": now,
    }  # fmt: skip
    values |= fields
    values["tx_key"] = f"test:{values['title']}"
    with node.db.transaction() as s:
        row = Listing(**values)
        s.add(row)
        s.flush()
        return row.id


@pytest.fixture
def version_id(node: Node, task: TaskPublic, contributor: DataCoopClient) -> int:
    made = Accepted(node, task, contributor, [])
    made.add(2, jurisdiction="KE")
    made.add(1, jurisdiction="IN")
    dataset = node.datasets.create(None, "masks", {"task_ids": [task.id]})
    return node.datasets.create_version(dataset.id).id


def test_search_filters(node: Node, api: TestClient, version_id: int) -> None:
    # Prepare
    ids = {
        "cheap": _listing(node, version_id, title="cheap masks", price=10),
        "text": _listing(node, version_id, title="receipts", modality="text", licence="CC0-1.0"),
        "eu": _listing(node, version_id, title="eu only", jurisdictions=["DE", "FR"], origins=["DE"]),
        "big": _listing(node, version_id, title="big", item_count=50_000, size_bytes=10**10),
        "pending": _listing(node, version_id, title="pending", status="pending"),
    }

    def found(**params: Any) -> set[str]:
        response = api.get("/v1/listings", params=params)
        assert response.status_code == 200, response.text
        return {next(k for k, v in ids.items() if v == row["id"]) for row in response.json()}

    # Execute / Assert
    assert found() == {"cheap", "text", "eu", "big"}
    assert found(q="MASKS") == {"cheap"}
    assert found(modality="text") == {"text"}
    assert found(licence="cc0-1.0") == {"text"}
    assert found(max_price=100) == {"cheap"}
    assert found(min_items=1_000) == {"big"}
    assert found(max_size=5_000) == {"cheap", "text", "eu"}
    assert found(origin="de") == {"eu"}
    assert found(buyer="US") == {"cheap", "text", "big"}
    assert found(include_pending="true") == set(ids)
    bad = api.get("/v1/listings", params={"origin": "Germany"})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "origin"


def test_the_listing_page_summarises_provenance(node: Node, api: TestClient, version_id: int) -> None:
    listing_id = _listing(node, version_id)
    page = api.get(f"/v1/listings/{listing_id}").json()
    assert page["provenance"] == {
        "items": 3, "contributors": 1, "countries": {"IN": 1, "KE": 2}, "consent_coverage": 1.0,
        "reviews": {"accepted": 3}, "licences": ["CC-BY-4.0"],
    }  # fmt: skip
    assert [s["index"] for s in page["samples"]] == [0, 1, 2]
    assert all(s["cid"].startswith("baf") for s in page["samples"])
    assert page["datasheet"]["items_root"].startswith("0x")
    assert page["metadata"]["manifest"] == f"/v1/dataset-versions/{version_id}/manifest"
    assert api.get("/v1/listings/999").json()["error"]["field"] == "listing_id"


def test_listing_needs_a_chain(api: TestClient, requester: DataCoopClient, version_id: int) -> None:
    response = api.post(
        "/v1/listings",
        json=GOOD | {"version_id": version_id},
        headers={"Authorization": f"Bearer {requester._token}"},
    )
    assert response.status_code == 503 and response.json()["error"]["field"] == "chain"
