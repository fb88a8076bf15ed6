"""Every route of /openapi.json against every role, as ``access_table.ACCESS`` says (see that module).

One world per module and database (a real anvil, a node, a party per role, see ``authz_world``); one
test per route asks it as every role it concerns and checks each answer against the table: 401
without a session, the row's refusal for the roles it does not allow, what the allowed ones get. A
route that exists without a row fails ``test_every_route_has_a_row``.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from tests.integration.chain.test_settlement import _fund
from tests.unit.api.access_table import ACCESS, OK, PASS, ROLES
from tests.unit.api.authz_world import ALGORITHM, AuthzWorld, build_world
from tests.unit.api.conftest import signed_body

from datacoop.api.app import create_app
from datacoop.app import build_node
from datacoop.chain.anvil import AnvilNode
from datacoop.chain.contracts import TaskEscrow, TestToken
from datacoop.client import derive_dev_accounts
from datacoop.db import Database
from datacoop.identity.eip712 import AppealMessage, VoteMessage, sign_typed
from datacoop.identity.siwe import build_message
from datacoop.settings import Settings

Call = tuple[str, dict[str, Any]]  # path, keyword arguments of TestClient.request
Builder = Callable[[AuthzWorld, str], Call]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthzWorld]:
    folder = tmp_path_factory.mktemp(f"authz-{request.param}")
    accounts = derive_dev_accounts(8)
    with _database(request, folder) as db, AnvilNode(folder / "chain") as anvil:
        settings = Settings(data_dir=folder / "node", chain="rpc", rpc_url=anvil.url,
                            operator_key="0x" + accounts[0].key.hex(),
                            rate_limit_sign_in_per_client=0, rate_limit_sign_in_per_address=0)  # fmt: skip
        node = build_node(settings, db=db, migrate=False)
        try:
            with TestClient(create_app(node), raise_server_exceptions=False) as api:
                built = build_world(node, api, accounts)
                chain, deployment = node.chain.client, node.chain.deployment  # type: ignore[union-attr]
                escrow = TaskEscrow(chain, deployment.escrow)
                built.ids["escrow"] = _fund(
                    chain, TestToken(chain, deployment.token), escrow, accounts[1], 10
                )
                linked = api.post(  # funded before any row runs: rows run in any order across workers
                    f"/v1/tasks/{built.ids['task']}/escrow", json={"escrow_task_id": built.ids["escrow"]},
                    headers=built.headers("requester"),
                )  # fmt: skip
                assert linked.status_code == 201, linked.text
                yield built
        finally:
            node.close()


class _database:
    """A migrated database for the module: a SQLite file, or a PostgreSQL schema dropped afterwards."""

    def __init__(self, request: pytest.FixtureRequest, folder: Path) -> None:
        self.request, self.folder, self.schema = request, folder, f"authz_{secrets.token_hex(4)}"

    def __enter__(self) -> Database:
        if self.request.param == "sqlite":
            self.db = Database(f"sqlite:///{self.folder / 'authz.db'}")
        else:
            self.url = self.request.getfixturevalue("postgres_url")
            _admin(self.url, f"CREATE SCHEMA {self.schema}")
            self.db = Database(self.url, schema=self.schema)
        self.db.migrate()
        return self.db

    def __exit__(self, *_exc: object) -> None:
        self.db.dispose()
        if self.request.param != "sqlite":
            _admin(self.url, f"DROP SCHEMA {self.schema} CASCADE")


def _admin(url: str, statement: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(statement))
    engine.dispose()


def test_every_route_has_a_row(world: AuthzWorld) -> None:
    spec = world.api.get("/openapi.json").json()
    routes = {f"{method.upper()} {path}" for path, ops in spec["paths"].items() for method in ops}
    assert sorted(routes - ACCESS.keys()) == [], "add a row to tests/unit/api/access_table.py"
    assert sorted(ACCESS.keys() - routes) == [], "a row names a route the app does not have"
    assert sorted(ACCESS.keys() - CALLS.keys()) == [], "say how to call the route in CALLS"


PENDING: dict[str, str] = {}  # rows the node does not hold yet (route: why), run as expected failures


@pytest.mark.parametrize(
    "route",
    [pytest.param(r, marks=pytest.mark.xfail(reason=PENDING[r])) if r in PENDING else r for r in ACCESS],
)
def test_the_route_answers_each_role_as_the_table_says(world: AuthzWorld, route: str) -> None:
    rule, method = ACCESS[route], route.split(" ", 1)[0]
    roles = [r for r in ROLES if r not in rule.na]
    roles.sort(key=lambda r: r in rule.allow)  # refusals first: an allowed call may change the world
    wrong = []
    for role in roles:
        path, kwargs = CALLS[route](world, role)
        kwargs.setdefault("headers", world.headers(role))
        response = world.api.request(method, path, **kwargs)
        if not _meets(response.status_code, rule.expect(role)):
            wrong.append(f"{role}: {response.status_code} (table: {rule.expect(role)}) {response.text[:160]}")
    assert wrong == [], f"{route}\n" + "\n".join(wrong)


def _meets(status: int, expected: str | int) -> bool:
    if expected == OK:
        return 200 <= status < 300
    if expected == PASS:
        return status not in (401, 403, 404)
    return status == expected


# --- how each route is called, as each role ---------------------------------------------------------


def _fixed(template: str) -> Builder:
    return lambda w, _role: (template.format(**w.ids), {})


def _siwe(w: AuthzWorld, role: str) -> Call:
    account = w.accounts.get(role) or Account.create()
    n = w.api.get("/v1/auth/nonce").json()
    now = datetime.now(UTC)
    message = build_message(
        domain=n["domain"], address=account.address, uri=n["uri"], chain_id=n["chain_id"], nonce=n["nonce"],
        issued_at=now, expiration_time=now + timedelta(minutes=5),
    )  # fmt: skip
    signature = "0x" + bytes(account.sign_message(encode_defunct(text=message)).signature).hex()
    return "/v1/auth/siwe", {"json": {"message": message, "signature": signature}}


def _logout(w: AuthzWorld, role: str) -> Call:
    if role not in w.accounts:
        return "/v1/auth/logout", {}
    fresh = w.sdk(w.accounts[role])  # a session of its own: the table's sessions stay open
    return "/v1/auth/logout", {"headers": {"Authorization": f"Bearer {fresh._token}"}}


def _relay(w: AuthzWorld, role: str) -> Call:
    """A well-formed gasless claim whose signature is not the account's: the service refuses it (422)."""
    signer, zero = Account.create(), "0x" + "00" * 20
    signature = "0x" + bytes(signer.sign_message(encode_defunct(text=role)).signature).hex()
    body = {"chain_id": 31337, "vault": zero, "account": signer.address, "cumulative": 1, "relayer": zero,
            "fee": 0, "deadline": 1, "signature": signature}  # fmt: skip
    return f"/v1/claims/{w.ids['task']}/relay", {"json": body}


def _client(w: AuthzWorld, role: str) -> Any:
    return w.clients.get(role) or w.clients["contributor"]  # anonymous sends a contributor's body


def _submission(w: AuthzWorld, role: str) -> Call:
    client = _client(w, role)
    cid = client.upload(f"a photo by {role}".encode()).cid
    consent = client.get_task(w.ids["task"]).consent_hash
    body = signed_body(client, client.account, w.ids["task"], cid, consent, nonce=secrets.randbits(63))
    return f"/v1/tasks/{w.ids['task']}/submissions", {"json": body}


def _signed(w: AuthzWorld, role: str, message: Any) -> str:
    client = _client(w, role)
    return str(sign_typed(client.account.key, message.to_typed_data(client.eip712_domain())))


def _vote(w: AuthzWorld, role: str) -> Call:
    item = w.assignments.get(role, w.assignments["validator"])
    address = _client(w, role).account.address
    message = VoteMessage(validator=address, task_id=item.task.id, assignment_id=item.assignment_id,
                          decision="accept", labels="[]", nonce=secrets.randbits(63))  # fmt: skip
    body = {
        "decision": "accept",
        "labels": [],
        "nonce": message.nonce,
        "signature": _signed(w, role, message),
    }
    return f"/v1/reviews/{item.assignment_id}/vote", {"json": body}


def _appeal(w: AuthzWorld, role: str) -> Call:
    sid, address = w.ids["submission"], _client(w, role).account.address
    message = AppealMessage(
        contributor=address, submission_id=sid, reason="look again", nonce=secrets.randbits(63)
    )
    body = {"reason": "look again", "nonce": message.nonce, "signature": _signed(w, role, message)}
    return f"/v1/submissions/{sid}/appeal", {"json": body}


def _content(w: AuthzWorld, role: str) -> Call:
    return w.assignments.get(role, w.assignments["validator"]).download, {}


def _gold(w: AuthzWorld, role: str) -> Call:
    cid = _client(w, role).upload(f"gold from {role}".encode()).cid
    return f"/v1/tasks/{w.ids['task']}/gold", {"json": {"cid": cid, "answer": "accept"}}


def _own_order(template: str) -> Builder:
    def call(w: AuthzWorld, role: str) -> Call:
        order = w.ids.get(f"order:{role}", w.ids["order:buyer"])
        return template.format(order=order["id"]), {}

    return call


def _delivery(w: AuthzWorld, role: str) -> Call:
    return w.ids.get(f"url:{role}", w.ids["url:buyer"]), {}


def _job(w: AuthzWorld, role: str) -> Call:
    source = base64.b64encode(ALGORITHM).decode()
    return "/v1/compute/jobs", {
        "json": {"version_id": w.ids["version"], "filename": "count.py", "source": source}
    }


def _listing(w: AuthzWorld, role: str) -> Call:
    body = {"version_id": w.ids["version"], "price": "1000", "licence": "CC-BY-4.0", "duration_s": 3600}
    return "/v1/listings", {"json": body}


def _order(w: AuthzWorld, role: str) -> Call:
    body = {"listing_id": w.ids["listing"], "tx_hash": w.ids["order:buyer"]["tx_hash"], "jurisdiction": "US"}
    return "/v1/orders", {"json": body}


HOOK = {"url": "http://127.0.0.1:9/hook", "events": ["submission.decided", "order.delivered"]}


def _requesters_webhook(w: AuthzWorld, *, fresh: bool = False) -> str:
    """The path of a webhook of the requester's (a new one with ``fresh``: a deletion takes it)."""
    if fresh or "webhook" not in w.ids:
        made = w.api.post("/v1/webhooks", json=HOOK, headers=w.headers("requester"))
        assert made.status_code == 201, made.text
        if fresh:
            return f"/v1/webhooks/{made.json()['id']}"
        w.ids["webhook"] = made.json()["id"]
    return f"/v1/webhooks/{w.ids['webhook']}"


def _delete_webhook(w: AuthzWorld, role: str) -> Call:
    return _requesters_webhook(w, fresh=role == "requester"), {}


CALLS: dict[str, Builder] = {
    "GET /v1/health": _fixed("/v1/health"),
    "GET /v1/health/live": _fixed("/v1/health/live"),
    "GET /v1/health/ready": _fixed("/v1/health/ready"),
    "GET /v1/eip712": _fixed("/v1/eip712"),
    "GET /v1/auth/nonce": _fixed("/v1/auth/nonce"),
    "POST /v1/auth/siwe": _siwe,
    "GET /v1/auth/me": _fixed("/v1/auth/me"),
    "POST /v1/auth/logout": _logout,
    "GET /v1/tasks": _fixed("/v1/tasks"),
    "POST /v1/tasks": lambda w, _r: ("/v1/tasks", {"json": _task_json()}),
    "GET /v1/tasks/{task_id}": _fixed("/v1/tasks/{task}"),
    "GET /v1/tasks/{task_id}/dashboard": _fixed("/v1/tasks/{task}/dashboard"),
    "GET /v1/tasks/{task_id}/samples/{submission_id}": _fixed("/v1/tasks/{market_task}/samples/{accepted}"),
    "POST /v1/blobs": lambda _w, role: ("/v1/blobs", {"content": f"bytes of {role}".encode()}),
    "GET /v1/blobs/{cid}": _fixed("/v1/blobs/{blob}"),
    "POST /v1/tasks/{task_id}/submissions": _submission,
    "GET /v1/submissions": _fixed("/v1/submissions"),
    "GET /v1/tasks/{task_id}/submissions": _fixed("/v1/tasks/{task}/submissions"),
    "GET /v1/tasks/{task_id}/submissions/export": _fixed("/v1/tasks/{task}/submissions/export"),
    "GET /v1/submissions/{submission_id}": _fixed("/v1/submissions/{submission}"),
    "GET /v1/submissions/{submission_id}/review": _fixed("/v1/submissions/{submission}/review"),
    "GET /v1/submissions/{submission_id}/appeal": _fixed("/v1/submissions/{appealed}/appeal"),
    "POST /v1/submissions/{submission_id}/decision": lambda w, _r: (
        f"/v1/submissions/{w.ids['submission']}/decision",
        {"json": {"decision": "accept"}},
    ),
    "POST /v1/submissions/{submission_id}/appeal": _appeal,
    "GET /v1/reviews/me": _fixed("/v1/reviews/me"),
    "GET /v1/reviews/next": _fixed("/v1/reviews/next"),
    "GET /v1/reviews/{assignment_id}/content": _content,
    "POST /v1/tasks/{task_id}/gold": _gold,
    "GET /v1/tasks/{task_id}/gold": _fixed("/v1/tasks/{task}/gold"),
    "GET /v1/reviews/slashing": _fixed("/v1/reviews/slashing"),
    "POST /v1/reviews/slashing/{proposal_id}/execute": _fixed("/v1/reviews/slashing/1/execute"),
    "GET /v1/datasets": _fixed("/v1/datasets"),
    "POST /v1/datasets": lambda w, _r: (
        "/v1/datasets",
        {"json": {"name": "again", "query": {"task_ids": [w.ids["market_task"]]}}},
    ),
    "GET /v1/datasets/{dataset_id}": _fixed("/v1/datasets/{dataset}"),
    "POST /v1/datasets/{dataset_id}/versions": _fixed("/v1/datasets/{dataset}/versions"),
    "GET /v1/datasets/{dataset_id}/versions/{number}": _fixed("/v1/datasets/{dataset}/versions/1"),
    "GET /v1/datasets/{dataset_id}/versions/{number}/manifest": _fixed(
        "/v1/datasets/{dataset}/versions/1/manifest"
    ),
    "GET /v1/dataset-versions/{version_id}": _fixed("/v1/dataset-versions/{version}"),
    "GET /v1/dataset-versions/{version_id}/manifest": _fixed("/v1/dataset-versions/{version}/manifest"),
    "GET /v1/dataset-versions/{version_id}/export/{format_name}": _fixed(
        "/v1/dataset-versions/{version}/export/datasheet"
    ),
    "GET /v1/dataset-versions/{version_id}/proof/{index}": _fixed("/v1/dataset-versions/{version}/proof/0"),
    "POST /v1/tasks/{task_id}/escrow": lambda w, _r: (
        f"/v1/tasks/{w.ids['task']}/escrow",
        {"json": {"escrow_task_id": w.ids["escrow"]}},
    ),
    "POST /v1/tasks/{task_id}/epochs": _fixed("/v1/tasks/{market_task}/epochs"),
    "GET /v1/tasks/{task_id}/epochs": _fixed("/v1/tasks/{task}/epochs"),
    "GET /v1/tasks/{task_id}/spend": _fixed("/v1/tasks/{task}/spend"),
    "GET /v1/claims/{address}": _fixed("/v1/claims/{contributor}"),
    "POST /v1/claims/{task_id}/relay": _relay,
    "GET /v1/statements/{address}": _fixed("/v1/statements/{contributor}"),
    "POST /v1/listings": _listing,
    "GET /v1/listings": _fixed("/v1/listings"),
    "GET /v1/listings/{listing_id}": _fixed("/v1/listings/{listing}"),
    "POST /v1/listings/{listing_id}/royalty-rounds": _fixed("/v1/listings/{listing}/royalty-rounds"),
    "GET /v1/orders": _fixed("/v1/orders"),
    "POST /v1/orders": _order,
    "GET /v1/orders/{order_id}": _own_order("/v1/orders/{order}"),
    "GET /v1/orders/{order_id}/download-url": _own_order("/v1/orders/{order}/download-url"),
    "GET /v1/deliveries/{token}": _delivery,
    "GET /v1/royalties/{address}": _fixed("/v1/royalties/{contributor}"),
    "POST /v1/compute/jobs": _job,
    "GET /v1/compute/policies/{version_id}": _fixed("/v1/compute/policies/{version}"),
    "PUT /v1/compute/policies/{version_id}": lambda w, _r: (
        f"/v1/compute/policies/{w.ids['version']}",
        {"json": {"mode": "open"}},
    ),
    "GET /v1/compute/jobs/{job_id}": _fixed("/v1/compute/jobs/{job}"),
    "POST /v1/compute/jobs/{job_id}/outputs/{name}/link": _fixed(
        "/v1/compute/jobs/{job}/outputs/result.json/link"
    ),
    "GET /v1/compute/outputs/{job_id}/{name}": _fixed("/v1/compute/outputs/{job}/result.json?{output_query}"),
    "POST /v1/webhooks": lambda _w, _r: ("/v1/webhooks", {"json": HOOK}),
    "GET /v1/webhooks": _fixed("/v1/webhooks"),
    "GET /v1/webhooks/{subscription_id}/deliveries": lambda w, _r: (
        _requesters_webhook(w) + "/deliveries",
        {},
    ),
    "DELETE /v1/webhooks/{subscription_id}": _delete_webhook,
    "POST /v1/chain/rpc": lambda _w, _r: (
        "/v1/chain/rpc",
        {"json": {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}},
    ),
    "GET /v1/dev/accounts": _fixed("/v1/dev/accounts"),
    "POST /v1/reviews/{assignment_id}/vote": _vote,
    "POST /v1/submissions/{submission_id}/withdraw": _fixed("/v1/submissions/{submission}/withdraw"),
    "POST /v1/tasks/{task_id}/close": _fixed("/v1/tasks/{task}/close"),
}


def _task_json() -> dict[str, Any]:
    from tests.unit.api.conftest import task_body

    return task_body().model_dump(mode="json")
