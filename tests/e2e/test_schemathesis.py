"""Schemathesis against a real ``datacoop up``: every check, the stateful phase, signed-in wallets.

Three development wallets sign in through SIWE; their session tokens go to schemathesis as a Web
Fuzzing Commons auth file whose users are peers, so its object-level authorization check replays one
wallet's reads as the others. ``POST /v1/auth/logout`` ends the session it is sent with, so it runs on
its own, with a wallet of its own, after the main run. A task with two submissions is made first, so
reads find real objects. Links between operations (create a task, then read, close, fund and submit to
it) are inferred by schemathesis from the schema's ids; the stateful phase runs with its own time.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, make_url, text
from tests.e2e.conftest import RunningNode, start_node

from datacoop.client import DataCoopClient, load_account
from datacoop.tasks.schemas import TaskCreate

WALLETS = ("dev:1", "dev:2", "dev:3")
LOGOUT = "/v1/auth/logout"
LOGOUT_WALLET = "dev:0"  # dev:0 to dev:3 exist; its own session, so the main run keeps theirs
# Bounded for CI; DATACOOP_FUZZ_SECONDS and DATACOOP_FUZZ_SEED widen or vary a run by hand.
MAX_TIME_S = int(os.environ.get("DATACOOP_FUZZ_SECONDS", "90"))
SEED = os.environ.get("DATACOOP_FUZZ_SEED", "20261207")
SEED_TASK = {
    "title": "Street signs",
    "description": "photos of street signs",
    "modality": "image",
    "reward_per_item": 1,
    "target_count": 100,
    "deadline": "2030-01-01T00:00:00Z",
    "consent_text": "I took this photo and share it under CC-BY-4.0.",
}

# Rules JSON Schema cannot state. These operations may refuse input that matches the schema with a
# 400 or 422 naming the field; every other operation must accept what its schema allows.
SEMANTIC = {
    "POST /v1/auth/siwe": "the message must be an EIP-4361 message for this node's domain and chain",
    "POST /v1/tasks": "the deadline must be in the future",
    "GET /v1/claims/{address}": "a mixed-case address must carry its EIP-55 checksum",
    "GET /v1/statements/{address}": "a mixed-case address must carry its EIP-55 checksum",
    "GET /v1/royalties/{address}": "a mixed-case address must carry its EIP-55 checksum",
    "POST /v1/claims/{task_id}/relay": "mixed-case addresses carry their EIP-55 checksum; the account signed",
    "POST /v1/orders": "the jurisdiction must be an ISO 3166-1 country",
    "POST /v1/tasks/{task_id}/gold": "the CID's multihash must be sha2-256 of a raw or dag-pb block",
    "POST /v1/tasks/{task_id}/submissions": "the CID's multihash; an ISO 3166-1 jurisdiction",
    "POST /v1/compute/jobs": "the algorithm must be a .py file or a .zip package",
    "POST /v1/tasks/{task_id}/escrow": "escrow_task_id must name an escrow task open on chain",
    "POST /v1/datasets": "query.jurisdictions must be ISO 3166-1 countries",
    "POST /v1/datasets/{dataset_id}/versions": "query.jurisdictions must be ISO 3166-1 countries",
    "POST /v1/listings": "ISO 3166-1 jurisdictions; modes, data category and consent scope from lists",
    "PUT /v1/compute/policies/{version_id}": "the approved mode names at least one algorithm",
    "POST /v1/webhooks": "the url must be https to a public address (http only to loopback, in development)",
}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fuzzed_node(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunningNode]:
    """``datacoop up`` on a fresh data directory: its SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        node = start_node(tmp_path / "node", tmp_path / "up.log")
        yield node
        node.stop()
        return
    url = request.getfixturevalue("postgres_url")
    schema = f"t_{secrets.token_hex(6)}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    in_schema = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    settings = {"DATACOOP_DATABASE_URL": in_schema.render_as_string(hide_password=False)}
    try:
        node = start_node(tmp_path / "node", tmp_path / "up.log", settings=settings)
        yield node
        node.stop()
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def _client(node: RunningNode, wallet: str) -> DataCoopClient:
    client = DataCoopClient(node.url, account=load_account(wallet, data_dir=node.data_dir))
    client.login()
    return client


def _seed(node: RunningNode) -> None:
    """Real objects for the fuzzer to find and link: dev:1's open task, two of dev:2's submissions to it."""
    with _client(node, "dev:1") as requester, _client(node, "dev:2") as contributor:
        task = requester.create_task(TaskCreate.model_validate(SEED_TASK))
        for n in range(2):
            contributor.submit(task.id, contributor.upload(b"seed item %d" % n).cid, "KE")


def _tokens(node: RunningNode) -> dict[str, str]:
    """A session per wallet, all signed in before fuzzing starts (which spends the sign-in rate limit)."""
    tokens = {}
    for wallet in (*WALLETS, LOGOUT_WALLET):
        with _client(node, wallet) as client:
            assert client._token is not None
            tokens[wallet] = client._token
    return tokens


def _config(folder: Path, tokens: dict[str, str]) -> Path:
    """A schemathesis.toml: a WFC auth file with one peer per wallet, SEMANTIC's statuses."""
    wallets = list(tokens)
    users = [
        {"name": w, "fixedHeaders": [{"name": "Authorization", "value": f"Bearer {token}"}]}
        for w, token in tokens.items()
    ]
    auth = folder / "wfc-auth.json"
    auth.write_text(json.dumps({"schemaVersion": "0.2.0", "auth": users}))
    # schemathesis' default, plus 410: a state refusal like 409 (a signature's deadline passed, a task closed)
    statuses = ["2xx", "3xx", "401", "403", "404", "409", "410", "429", "5xx"]
    lines = [f"checks.positive_data_acceptance.expected-statuses = {json.dumps(statuses)}"]
    lines += ["[auth.wfc]", f"path = {json.dumps(str(auth))}"]
    lines += [f"peers = {json.dumps(wallets)}"] if len(wallets) > 1 else []
    semantic = json.dumps([*statuses, "400", "422"])
    for name in SEMANTIC:
        lines += ["[[operations]]", f"include-name = {json.dumps(name)}"]
        lines += [f"checks.positive_data_acceptance.expected-statuses = {semantic}"]
    config = folder / "schemathesis.toml"
    config.write_text("\n".join(lines) + "\n")
    return config


def _schemathesis(node: RunningNode, folder: Path, tokens: dict[str, str], *args: str) -> Path:
    """Run the CLI on 127.0.0.1; returns its NDJSON event stream."""
    folder.mkdir()
    events = folder / "events.ndjson"
    config = _config(folder, tokens)
    cmd = [
        *(sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "--no-color"),
        *("run", node.url + "/openapi.json", "--checks", "all", "--seed", SEED, "--workers", "1"),
        *("--max-examples", "30", "--report", "ndjson", "--report-ndjson-path", str(events), *args),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=folder, timeout=MAX_TIME_S + 300)
    (folder / "output.txt").write_text(out.stdout + out.stderr)
    assert events.exists(), f"schemathesis did not run:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return events


def _text(payload: Any, limit: int = 240) -> str:
    if isinstance(payload, dict) and "$base64" in payload:
        payload = base64.b64decode(payload["$base64"]).decode("utf-8", "replace")
    return repr(payload)[:limit]


def _describe(failure: dict[str, Any], exchange: dict[str, Any]) -> str:
    request, response = exchange.get("request", {}), exchange.get("response") or {}
    return (
        f"{failure['code']} {failure['operation']}: {failure['message']!r}\n"
        f"    {request.get('method')} {request.get('uri', '')[:300]} body={_text(request.get('body'))}\n"
        f"    -> {response.get('status_code')} {_text(response.get('content'))}"
    )


def failures(events: Path) -> list[str]:
    """One entry per distinct failure: check code, operation, message, the request and the answer."""
    found: dict[tuple[str, str, str], str] = {}
    for line in events.read_text().splitlines():
        scenario = json.loads(line).get("ScenarioFinished")
        if not scenario or scenario["status"] != "failure":
            continue
        recorder = scenario["recorder"]
        for case_id, checks in recorder["checks"].items():
            exchange = recorder["interactions"].get(case_id) or {}
            for check in checks:
                if check["status"] == "failure":
                    f = check["failure_info"]["failure"]
                    key = (f["code"], f["operation"], f["message"].split("\n")[0])
                    found.setdefault(key, _describe(f, exchange))
    return list(found.values())


def _tracebacks(node: RunningNode) -> str:
    log = node.log.read_text()
    return log[log.find("Traceback") :][:6000] if "Traceback" in log else ""


@pytest.mark.slow
def test_schemathesis_finds_no_failure_against_datacoop_up(fuzzed_node: RunningNode, tmp_path: Path) -> None:
    # Prepare
    _seed(fuzzed_node)
    tokens = _tokens(fuzzed_node)
    peers = {w: tokens[w] for w in WALLETS}
    budget = ("--max-time", str(MAX_TIME_S // 2), "--exclude-path", LOGOUT)
    # Execute: each operation alone, then chains of them along the links (each phase with its own time)
    runs = [
        _schemathesis(
            fuzzed_node, tmp_path / "single", peers, "--phases", "examples,coverage,fuzzing", *budget
        ),
        _schemathesis(fuzzed_node, tmp_path / "stateful", peers, "--phases", "stateful", *budget),
        _schemathesis(
            fuzzed_node, tmp_path / "logout", {LOGOUT_WALLET: tokens[LOGOUT_WALLET]}, "--include-path", LOGOUT
        ),
    ]
    # Assert
    found = [failure for events in runs for failure in failures(events)]
    summaries = [(e.parent / "output.txt").read_text().rsplit("SUMMARY", 1)[-1] for e in runs[:2]]
    report = "\n".join(found + summaries)
    assert not found, f"{len(found)} schemathesis failures:\n{report}\n{_tracebacks(fuzzed_node)}"
