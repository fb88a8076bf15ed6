"""The audit log anchored on a real chain: a rewrite that fools the database alone still differs from it."""

from __future__ import annotations

from datetime import UTC, datetime

from eth_account.signers.local import LocalAccount
from sqlalchemy import delete, select, update

from datacoop.audit.log import AuditLog, entry_hash
from datacoop.chain.client import ChainClient
from datacoop.chain.contracts import DatasetRegistry
from datacoop.chain.deploy import Deployment
from datacoop.chain.outbox import Relay
from datacoop.chain.setup import ChainHandle
from datacoop.db import Database
from datacoop.db.models import AuditAnchor, AuditEntry, AuditHead


def _log(
    db: Database, chain: ChainClient, relay: Relay, accounts: list[LocalAccount], d: Deployment
) -> AuditLog:
    return AuditLog(db, chain=ChainHandle(chain, relay, accounts[0], d))


def _fill(log: AuditLog, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        log.record(actor="0xabc", action="exchange.grant", subject=f"order:{i}", details={"i": i})


def _settle(log: AuditLog) -> list[str]:
    """What the node's chain follower does each tick: one step of the outbox, then follow."""
    assert log._chain is not None
    for _ in range(100):
        log._chain.relay.step()
        log.sync()
        if all(a.status in ("confirmed", "failed") for a in log.anchors()):
            break
    return [a.status for a in log.anchors()]


def test_anchors_reach_the_chain_and_catch_a_consistent_rewrite(
    db: Database, chain: ChainClient, relay: Relay, accounts: list[LocalAccount], deployment: Deployment
) -> None:
    # Prepare: three entries anchored on chain, two more after
    log = _log(db, chain, relay, accounts, deployment)
    _fill(log, 3)
    anchor = log.anchor()
    assert anchor is not None and anchor.seq == 3
    statuses = _settle(log)
    _fill(log, 2, start=3)
    on_chain = log.chain_anchors()
    # Execute: rewrite entry 2, re-hash everything after it, fix the head row, drop the anchors table
    with db.transaction() as s:
        prev = s.scalars(select(AuditEntry.hash).where(AuditEntry.seq == 1)).one()
        for row in s.scalars(select(AuditEntry).where(AuditEntry.seq >= 2).order_by(AuditEntry.seq)):
            details = {**row.details, "i": 99} if row.seq == 2 else row.details
            digest = entry_hash(row.seq, row.at, row.actor, row.action, row.subject, details, prev)
            row.details, row.prev_hash, row.hash, prev = details, prev, digest, digest
        s.execute(update(AuditHead).values(hash=prev))
        s.execute(delete(AuditAnchor))
    local_only = log.verify()
    against_chain = log.verify(on_chain=log.chain_anchors())
    # Assert
    assert statuses == ["confirmed"]
    assert on_chain == {3: anchor.head_hash}
    registry = DatasetRegistry(chain, deployment.registry)
    assert registry._read("auditAnchors", 3) == bytes.fromhex(anchor.head_hash[2:])
    assert local_only.ok  # the database alone cannot tell
    problem = against_chain.problem
    assert problem is not None and (problem.seq, problem.kind) == (3, "anchor_mismatch")


def test_an_older_head_is_never_anchored_after_a_newer_one(
    db: Database, chain: ChainClient, relay: Relay, accounts: list[LocalAccount], deployment: Deployment
) -> None:
    log = _log(db, chain, relay, accounts, deployment)
    _fill(log, 5)
    newer = log.anchor()
    assert newer is not None
    _settle(log)
    with db.transaction() as s:  # a stale anchor of entry 2 shows up (say, from an old backup)
        two = s.scalars(select(AuditEntry).where(AuditEntry.seq == 2)).one()
        s.add(AuditAnchor(seq=2, head_hash=two.hash, created_at=datetime.now(UTC), status="pending"))
    statuses = _settle(log)
    assert statuses == ["confirmed", "failed"]
    assert log.chain_anchors() == {5: newer.head_hash}
    assert log.verify(on_chain=log.chain_anchors()).ok
