"""Who may call every route: the route × role table ``test_authorization.py`` holds the node to.

One row per operation of ``/openapi.json``. A row says, in words, who may call the route, what
each allowed role gets, and the refusal every other signed-in role gets (``deny``); a caller without
a session gets 401 unless the route is public. Refusals are 404 where the resource's existence is
itself private (a submission, its review and appeal: an id must not reveal that something exists),
403 where the resource is public and only the action is not the caller's, 401 without a session.

Roles: ``anonymous``; ``contributor`` (of the item under review, and of the listed dataset) and
``other_contributor``; ``validator`` (staked, holding the item) and ``unbonded_validator`` (handed an
item, then unbonded); ``requester`` (of the task, also the dataset's publisher) and
``other_requester``; ``buyer`` (a valid licence), ``buyer_no_licence``, ``buyer_expired_licence``,
``buyer_transferred_licence`` (sold it on); ``operator`` (the node's chain operator). The three
licence variants are only asked where a licence matters (exchange orders, deliveries, compute):
elsewhere they are the same signed-in stranger as ``buyer`` and the row marks them n/a.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["ACCESS", "OK", "PASS", "ROLES", "Rule"]

ROLES = (
    "anonymous", "contributor", "other_contributor", "validator", "unbonded_validator", "requester",
    "other_requester", "buyer", "buyer_no_licence", "buyer_expired_licence", "buyer_transferred_licence",
    "operator",
)  # fmt: skip
SIGNED_IN = ROLES[1:]
LICENCES = frozenset({"buyer_no_licence", "buyer_expired_licence", "buyer_transferred_licence"})

OK = "2xx"
"""The call succeeds."""
PASS = "passes"
"""The call is let through to the service, which judges its content (any answer but 401, 403 or 404)."""

Expect = str | int


@dataclass(frozen=True)
class Rule:
    who: str  # the sentence for the list of routes
    allow: Mapping[str, Expect]  # role -> what it gets
    deny: int = 403  # what every other signed-in role gets
    na: frozenset[str] = LICENCES  # roles the route does not concern
    cells: Mapping[str, int] = field(default_factory=dict)  # refusals that differ from ``deny``

    def expect(self, role: str) -> Expect:
        if role in self.allow:
            return self.allow[role]
        return self.cells.get(role, 401 if role == "anonymous" else self.deny)


def public(who: str = "anyone", *, na: frozenset[str] = LICENCES) -> Rule:
    return Rule(who, dict.fromkeys(ROLES, OK), na=na)


def signed_in(who: str = "any signed-in account", expect: Expect = OK, **kw: object) -> Rule:
    return Rule(who, dict.fromkeys(SIGNED_IN, expect), **kw)  # type: ignore[arg-type]


def only(who: str, allow: Mapping[str, Expect], deny: int = 403, **kw: object) -> Rule:
    return Rule(who, allow, deny, **kw)  # type: ignore[arg-type]


PARTIES = {"contributor": OK, "requester": OK, "operator": OK}  # of a submission: see disclosure.py
OWN_ORDER = {"buyer": OK, "buyer_expired_licence": OK, "buyer_transferred_licence": OK}

# Destructive calls (closing the task, a vote that settles an item, a withdrawal) come last.
ACCESS: dict[str, Rule] = {
    "GET /v1/health": public("anyone (status per part; the details only to the operator)"),
    "GET /v1/health/live": public("anyone (the process answers; no I/O)"),
    "GET /v1/health/ready": public("anyone (database and store status only)"),
    "GET /v1/eip712": public(),
    "GET /v1/auth/nonce": public(),
    "POST /v1/auth/siwe": public("anyone with a wallet (the signed message is the credential)"),
    "GET /v1/auth/me": signed_in(),
    "POST /v1/auth/logout": signed_in("any signed-in account (its own session)"),
    "GET /v1/tasks": public(),
    "POST /v1/tasks": signed_in(),
    "GET /v1/tasks/{task_id}": public(),
    "GET /v1/tasks/{task_id}/dashboard": only(
        "the task's requester, the operator", {"requester": OK, "operator": OK}
    ),
    "GET /v1/tasks/{task_id}/samples/{submission_id}": only(
        "the task's requester, the operator (the shared copy)", {"requester": OK, "operator": OK}
    ),
    "POST /v1/blobs": signed_in(),
    "GET /v1/blobs/{cid}": public("anyone (size and profile only; the bytes are never served here)"),
    "POST /v1/tasks/{task_id}/submissions": signed_in("any signed-in account, signing for itself (EIP-712)"),
    "GET /v1/submissions": signed_in("any signed-in account (its own submissions)"),
    "GET /v1/tasks/{task_id}/submissions": only(
        "the task's requester, the operator (shared copies' CIDs, no signatures)",
        {"requester": OK, "operator": OK},
    ),
    "GET /v1/tasks/{task_id}/submissions/export": only(
        "the task's requester, the operator (NDJSON, every row)", {"requester": OK, "operator": OK}
    ),
    "GET /v1/submissions/{submission_id}": only(
        "its contributor and the operator (all of it), the task's requester (the shared copy)", PARTIES, 404
    ),
    "GET /v1/submissions/{submission_id}/review": only(
        "its contributor, the task's requester, the operator", PARTIES, 404
    ),
    "GET /v1/submissions/{submission_id}/appeal": only(
        "its contributor, the task's requester, the operator (jurors named once final)", PARTIES, 404
    ),
    "POST /v1/submissions/{submission_id}/decision": only(
        "the task's requester, on an escalated item", {"requester": 409}, 404, cells={"contributor": 403}
    ),
    "POST /v1/submissions/{submission_id}/appeal": only(
        "its contributor, signing, on a rejected item", {"contributor": 409}, 404, cells={"requester": 403}
    ),
    "GET /v1/reviews/me": only("a validator with the minimum stake", {"validator": OK}),
    "GET /v1/reviews/next": only("a validator with the minimum stake", {"validator": OK}),
    "GET /v1/reviews/{assignment_id}/content": only(
        "the assigned validator, staked at request time", {"validator": OK}
    ),
    "POST /v1/tasks/{task_id}/gold": only("the task's requester (a blob it uploaded)", {"requester": OK}),
    "GET /v1/tasks/{task_id}/gold": only("the task's requester", {"requester": OK}),
    "GET /v1/reviews/slashing": only("the operator", {"operator": OK}),
    "POST /v1/reviews/slashing/{proposal_id}/execute": only("the operator", {"operator": 404}),
    "GET /v1/datasets": public(),
    "POST /v1/datasets": only("the requester of every task it selects", {"requester": OK}),
    "GET /v1/datasets/{dataset_id}": public(),
    "POST /v1/datasets/{dataset_id}/versions": only("the dataset's owner", {"requester": PASS}),
    "GET /v1/datasets/{dataset_id}/versions/{number}": public(),
    "GET /v1/datasets/{dataset_id}/versions/{number}/manifest": public("anyone (provenance is public)"),
    "GET /v1/dataset-versions/{version_id}": public(),
    "GET /v1/dataset-versions/{version_id}/manifest": public("anyone (provenance is public)"),
    "GET /v1/dataset-versions/{version_id}/export/{format_name}": public("anyone (metadata, no item bytes)"),
    "GET /v1/dataset-versions/{version_id}/proof/{index}": public(),
    "POST /v1/tasks/{task_id}/escrow": only("the task's requester (its own escrow task)", {"requester": OK}),
    "POST /v1/tasks/{task_id}/epochs": only("the operator", {"operator": PASS}),
    "GET /v1/tasks/{task_id}/epochs": public("anyone (roots and totals, no one's entitlement)"),
    "GET /v1/tasks/{task_id}/spend": only(
        "the task's requester, the operator", {"requester": OK, "operator": OK}
    ),
    "GET /v1/claims/{address}": only("the address itself, the operator", {"contributor": OK, "operator": OK}),
    "POST /v1/claims/{task_id}/relay": Rule(
        "anyone (the contributor's EIP-712 signature is the credential; the service judges it)",
        dict.fromkeys(ROLES, PASS),
    ),
    "GET /v1/statements/{address}": only(
        "the address itself, the operator", {"contributor": OK, "operator": OK}
    ),
    "POST /v1/listings": only("the dataset's publisher", {"requester": PASS}),
    "GET /v1/listings": public(),
    "GET /v1/listings/{listing_id}": public(),
    "POST /v1/listings/{listing_id}/royalty-rounds": only("the operator", {"operator": PASS}),
    "GET /v1/orders": signed_in("any signed-in account (its own orders)", na=frozenset()),
    "POST /v1/orders": signed_in(
        "any signed-in account; the purchase on chain decides", PASS, na=frozenset()
    ),
    "GET /v1/orders/{order_id}": only("the order's buyer", OWN_ORDER, na=frozenset()),
    "GET /v1/orders/{order_id}/download-url": only("the order's buyer", OWN_ORDER, na=frozenset()),
    "GET /v1/deliveries/{token}": only(
        "the order's buyer, signed in, holding the licence on chain now (the link is a second factor)",
        {"buyer": OK},
        na=frozenset(),
        cells={"buyer_expired_licence": 410},
    ),
    "GET /v1/royalties/{address}": only(
        "the address itself, the operator", {"contributor": OK, "operator": OK}
    ),
    "POST /v1/compute/jobs": only(
        "a buyer holding a compute licence on chain now", {"buyer": OK}, na=frozenset()
    ),
    "GET /v1/compute/policies/{version_id}": signed_in("any signed-in account (the rules a buyer agrees to)"),
    "PUT /v1/compute/policies/{version_id}": only("the version's publisher", {"requester": OK}),
    "GET /v1/compute/jobs/{job_id}": only("the job's buyer", {"buyer": OK}, 404, na=frozenset()),
    "POST /v1/compute/jobs/{job_id}/outputs/{name}/link": only(
        "the job's buyer, once the output is released", {"buyer": 404}, 404, na=frozenset()
    ),
    "GET /v1/compute/outputs/{job_id}/{name}": only(
        "the job's buyer, signed in, with the signed link (released outputs only)",
        {"buyer": 404},
        na=frozenset(),
    ),
    "POST /v1/webhooks": signed_in("any signed-in account (its own endpoint; events it is entitled to only)"),
    "GET /v1/webhooks": signed_in("any signed-in account (its own endpoints, without secrets)"),
    "GET /v1/webhooks/{subscription_id}/deliveries": only("the endpoint's owner", {"requester": OK}, 404),
    "DELETE /v1/webhooks/{subscription_id}": only("the endpoint's owner", {"requester": OK}, 404),
    "POST /v1/chain/rpc": public("anyone (reads and already-signed transactions only)"),
    "GET /v1/dev/accounts": public("anyone, on a development node only (public test keys)"),
    "POST /v1/reviews/{assignment_id}/vote": only(
        "the assigned validator, staked at request time", {"validator": OK}
    ),
    "POST /v1/submissions/{submission_id}/withdraw": only(
        "its contributor", {"contributor": OK}, 404, cells={"requester": 403}
    ),
    "POST /v1/tasks/{task_id}/close": only("the task's requester", {"requester": OK}),
}
