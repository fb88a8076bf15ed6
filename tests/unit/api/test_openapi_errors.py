"""The OpenAPI document promises every error an operation can answer, with the body it has."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from datacoop.api.errors import ErrorBody
from datacoop.client import DataCoopClient
from datacoop.errors import ERROR_TABLE

ERROR_REF = "#/components/schemas/ErrorBody"


def _operations(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(f"{m.upper()} {p}", op) for p, ops in document["paths"].items() for m, op in ops.items()]


def test_every_operation_documents_every_error_status_with_the_error_body(api: TestClient) -> None:
    # Prepare
    statuses = {str(status) for status, _exit in ERROR_TABLE.values()}
    # Execute
    document = api.get("/openapi.json").json()
    # Assert
    assert _operations(document)
    for label, op in _operations(document):
        for status in statuses:
            content = op["responses"].get(status, {}).get("content", {})
            assert content.get("application/json", {}).get("schema") == {"$ref": ERROR_REF}, (label, status)
    assert "HTTPValidationError" not in document["components"]["schemas"]  # FastAPI's 422 is not what we send


def test_error_answers_match_the_documented_body(api: TestClient) -> None:
    answers = [
        api.get("/v1/tasks/999999"),  # not_found
        api.get("/v1/auth/me"),  # not_authenticated
        api.get("/v1/tasks", params={"limit": 0}),  # a broken rule: the field and the limit
    ]
    for answer in answers:
        assert answer.status_code >= 400
        body = ErrorBody.model_validate(answer.json())
        assert body.error.code and body.error.message
    assert answers[2].json()["error"]["field"] == "limit"


def test_a_get_without_a_token_is_refused_exactly_where_the_schema_requires_one(api: TestClient) -> None:
    # Prepare: the GETs without path parameters, so each can be called as is
    document = api.get("/openapi.json").json()
    gets = {path: ops["get"] for path, ops in document["paths"].items() if "get" in ops and "{" not in path}
    # Execute
    answers = {path: api.get(path).status_code for path in gets}
    # Assert: a bearer requirement without the empty (optional) one means 401 to an anonymous caller
    for path, op in gets.items():
        security = op.get("security", [])
        required = bool(security) and {} not in security
        assert (answers[path] == 401) == required, (path, security, answers[path])


def test_a_dataset_query_is_documented_and_a_bad_one_names_its_field(
    api: TestClient, requester: DataCoopClient
) -> None:
    schemas = api.get("/openapi.json").json()["components"]["schemas"]
    assert schemas["DatasetCreate"]["properties"]["query"] == {"$ref": "#/components/schemas/DatasetQuery"}
    assert schemas["DatasetQuery"]["required"] == ["task_ids"]
    assert schemas["DatasetQuery"]["additionalProperties"] is False
    # a field named like a parameter location ("query") is still named in full
    auth = {"Authorization": f"Bearer {requester._token}"}
    answer = api.post("/v1/datasets", json={"name": "x", "query": {}}, headers=auth)
    assert (answer.status_code, answer.json()["error"]["field"]) == (422, "query.task_ids")


def test_request_schemas_state_the_formats_the_server_checks(api: TestClient) -> None:
    document = api.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    for model in ("SubmissionCreate", "VoteCreate", "AppealCreate"):  # 65 bytes r‖s‖v
        assert schemas[model]["properties"]["signature"]["pattern"] == r"^0x[0-9a-fA-F]{128}(0[01]|1[bcBC])$"
    assert schemas["SignIn"]["properties"]["signature"]["pattern"] == r"^0x([0-9a-fA-F]{2})+$"
    assert schemas["ListingCreate"]["properties"]["price"]["pattern"] == r"^[1-9][0-9]{0,27}$"
    export = document["paths"]["/v1/dataset-versions/{version_id}/export/{format_name}"]["get"]
    (format_name,) = [p for p in export["parameters"] if p["name"] == "format_name"]
    assert format_name["schema"]["pattern"] == "^(datasheet|croissant|parquet)$"
    assert api.get("/v1/dataset-versions/1/export/pdf").json()["error"]["field"] == "format_name"


def _bounds(node: Any) -> list[Any]:
    if isinstance(node, dict):
        keys = ("maximum", "minimum", "exclusiveMaximum", "exclusiveMinimum")
        own = [v for k, v in node.items() if k in keys] if node.get("type") == "integer" else []
        return own + [b for v in node.values() for b in _bounds(v)]
    return [b for v in node for b in _bounds(v)] if isinstance(node, list) else []


def test_integer_bounds_are_exact_not_rounded_to_floats(api: TestClient) -> None:
    schemas = api.get("/openapi.json").json()["components"]["schemas"]
    assert schemas["VoteCreate"]["properties"]["nonce"]["exclusiveMaximum"] == 2**256  # not 1.1579e77
    assert 2**63 - 1 in _bounds(schemas)  # a byte limit in a body, not 9.223372036854776e18 (2**63)
    assert all(isinstance(bound, int) for bound in _bounds(schemas))


def test_routes_that_serve_bytes_say_which_and_rounds_document_their_204(api: TestClient) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    delivery = paths["/v1/deliveries/{token}"]["get"]["responses"]
    assert set(delivery["200"]["content"]) == set(delivery["206"]["content"]) == {"application/x-tar"}
    assert "416" in delivery
    for path in ("/v1/tasks/{task_id}/samples/{submission_id}", "/v1/reviews/{assignment_id}/content"):
        assert set(paths[path]["get"]["responses"]["200"]["content"]) == {"application/octet-stream"}
    for path in ("/v1/tasks/{task_id}/epochs", "/v1/listings/{listing_id}/royalty-rounds"):
        assert "204" in paths[path]["post"]["responses"]
