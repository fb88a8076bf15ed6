"""The demo's money and its product: the task's escrow, the contributors' claims, the frozen dataset.

The requester and the contributors sign their own transactions (they act as wallets,
not as the node); the dataset is anchored, verified against its chain record and
exported in every installed format.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount

from datacoop.app import Node
from datacoop.client import DataCoopClient
from datacoop.datasets.chain_record import record_on_chain
from datacoop.datasets.exporting import ExportOptions, check_options
from datacoop.datasets.manifest import Manifest
from datacoop.datasets.verify import directory_blobs, verify_manifest
from datacoop.errors import Conflict, DataCoopError
from datacoop.settlement import wallet

UNIT = 10**18
REWARD = UNIT  # one token per accepted item


def _open_escrow(node: Node, requester: LocalAccount, budget: int, deadline: datetime) -> int:
    """The requester approves and opens an escrow task holding the budget; its id on chain."""
    assert node.chain is not None
    deployment = node.chain.deployment
    funded = wallet.fund_task(
        node.chain.client.rpc_url, requester, token=deployment.token, escrow=deployment.escrow,
        amount=budget, deadline=int(deadline.timestamp()), claim_window_s=30 * 86_400,
    )  # fmt: skip
    return funded.escrow_task_id


def _settle(node: Node, task_id: int, contributors: list[DataCoopClient]) -> dict[str, Any]:
    assert node.chain is not None
    rpc_url, deployment = node.chain.client.rpc_url, node.chain.deployment
    epoch = node.settlement.settle(task_id)
    if epoch is None:
        raise Conflict("no item was accepted: there is nothing to settle (try another --seed)", field="seed")
    accepted: Counter[str] = Counter()
    for c in contributors:
        for sub in c.my_submissions(task_id):
            if sub.state == "accepted":
                accepted[sub.contributor] += 1
    payouts = []
    claims = paid = 0
    for c in contributors:
        acct = c.account
        assert acct is not None
        before = wallet.token_balance(rpc_url, deployment.token, acct.address)
        for claim in c.claims(acct.address):
            if int(claim["claimable"]) > 0:
                wallet.claim(
                    rpc_url, acct, escrow=deployment.escrow, escrow_task_id=claim["escrow_task_id"],
                    cumulative=int(claim["cumulative"]), proof=claim["proof"],
                )  # fmt: skip
                claims += 1
        after = wallet.token_balance(rpc_url, deployment.token, acct.address)
        paid += after - before
        payouts.append(
            {
                "address": acct.address,
                "accepted": accepted[acct.address],
                "before": str(before),
                "after": str(after),
                "gained": str(after - before),
                "expected": str(accepted[acct.address] * REWARD),
            }
        )
    return {
        "epoch": epoch.number,
        "status": epoch.status,
        "total": str(epoch.total),
        "tx_hash": epoch.tx_hash,
        "claims": claims,
        "paid_total": str(paid),
        "accepted": sum(accepted.values()),
        "payouts": payouts,
    }


def _dataset(
    node: Node,
    requester: DataCoopClient,
    task_id: int,
    data_dir: Path,
    formats: tuple[str, ...],
    say: Callable[[str], None],
) -> dict[str, Any]:
    assert node.chain is not None
    dataset = requester.create_dataset("Everyday scenes (demo)", {"task_ids": [task_id]})
    version = requester.create_dataset_version(dataset.id)
    pending = version.anchor.status
    anchored = node.datasets.anchor(version.id)
    data = requester.dataset_manifest(version.id)
    manifest = Manifest.from_bytes(data)
    token_id = int(anchored.anchor.token_id) if anchored.anchor.token_id is not None else None
    record = (
        None
        if token_id is None
        else record_on_chain(
            node.chain.client.rpc_url, node.chain.deployment.registry, token_id, anchored.manifest_cid,
            manifest.version,
        )
    )  # fmt: skip
    report = verify_manifest(data, blobs=directory_blobs(data_dir), chain=record)
    say(
        f"6. dataset version {manifest.version}: {manifest.item_count} items, anchor {pending} → "
        f"{anchored.anchor.status}, verify {'ok' if report.ok else 'FAILED'}"
    )
    exports, skipped = _export(node, version.id, data_dir / "exports", formats, say)
    return {
        "id": dataset.id,
        "version_id": version.id,
        "version": manifest.version,
        "items": manifest.item_count,
        "manifest_cid": anchored.manifest_cid,
        "items_root": manifest.items_root,
        "anchor": {
            "before": pending,
            "status": anchored.anchor.status,
            "token_id": token_id,
            "tx_hash": anchored.anchor.tx_hash,
        },
        "verified": report.ok,
        "verify_failures": [f"{c.name}: {c.detail}" for c in report.failures],
        "exports": exports,
        "exports_skipped": skipped,
    }


def _export(
    node: Node, version_id: int, root: Path, formats: tuple[str, ...], say: Callable[[str], None]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Each format through the one export path (``node.datasets.export``) into ``root/<format>``."""
    done: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    for name in formats:
        try:
            check_options(name, ExportOptions())  # the format is known and its libraries are installed
        except DataCoopError as exc:
            skipped[name] = exc.message
            say(f"   export {name}: skipped ({exc.message})")
            continue
        result = node.datasets.export(version_id, name, root / name)
        done[name] = {"items": result.items, "files": [str(p) for p in result.files]}
    return done, skipped
