"""Gas of DataCoop's money paths, read from transaction receipts on a real local node (anvil).

    python benchmarks/gas.py --json [--items 10000] [--contributors 1000]

Every number is ``gasUsed`` of a mined transaction (the 21,000 base and calldata included).
Each task has its own escrow contract (a ``TaskVault``, a minimal proxy ``TaskEscrow.openTask``
creates); claims are sent straight to it, as a contributor's wallet sends them, and a gasless claim
(signed by a fresh account, relayed by a token holder for a fee) too.
The epoch comparison settles ``--items`` accepted items earned by ``--contributors`` people
once through DataCoop (one root, one claim per contributor) and once the naive way (one
ERC-20 transfer per item), both sent in full, and divides each total by the item count.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak

from datacoop import merkle
from datacoop.chain.anvil import AnvilNode
from datacoop.chain.client import ChainClient
from datacoop.chain.contracts import DatasetRegistry, LicenseMarket, TaskEscrow, TestToken, TxRequest
from datacoop.chain.deploy import Deployment, ensure_deployed
from datacoop.chain.gasless import ClaimAuthorisation, SignedClaim
from datacoop.chain.outbox import Relay
from datacoop.client import derive_dev_accounts
from datacoop.db import Database

UNIT = 10**18
DAY = 86_400


def _send(chain: ChainClient, who: LocalAccount, req: TxRequest) -> int:
    return chain.send(who, req.as_tx()).gas_used


def _send_many(
    chain: ChainClient, who: LocalAccount, reqs: list[TxRequest], gas: int, batch: int = 500
) -> list[int]:
    """Sign and broadcast without waiting on each receipt (fast), then read every receipt.

    In batches of ``batch``: 10,000 transactions in anvil's pool at once left one unmined for
    over two minutes on a loaded 2-core machine.
    """
    w3 = chain.w3
    nonce = w3.eth.get_transaction_count(who.address, "pending")
    fee = {"maxFeePerGas": 50 * 10**9, "maxPriorityFeePerGas": 10**9, "chainId": chain.chain_id}
    used: list[int] = []
    for start in range(0, len(reqs), batch):
        hashes = []
        for i, req in enumerate(reqs[start : start + batch], start):
            signed = who.sign_transaction({**req.as_tx(), "nonce": nonce + i, "gas": gas, **fee})
            hashes.append(w3.eth.send_raw_transaction(signed.raw_transaction))
        receipts = [chain.wait(h) for h in hashes]
        assert all(r.status == 1 for r in receipts), "a transaction reverted"
        used += [r.gas_used for r in receipts]
    return used


def _sibling_proof_root(account: str, amount: int, depth: int) -> tuple[str, list[str]]:
    """A proof of ``depth`` random siblings and its root: a claim costs what a 2**depth tree's would."""
    node = merkle.leaf_hash(account, amount)
    proof = [secrets.token_bytes(32) for _ in range(depth)]
    for sibling in proof:
        node = keccak(b"".join(sorted((node, sibling))))
    return "0x" + node.hex(), ["0x" + p.hex() for p in proof]


def _open_task(chain: ChainClient, d: Deployment, requester: LocalAccount, budget: int) -> tuple[int, int]:
    token, escrow = TestToken(chain, d.token), TaskEscrow(chain, d.escrow)
    _send(chain, requester, token.mint(requester.address, budget))
    _send(chain, requester, token.approve(escrow.address, budget))
    now = chain.w3.eth.get_block("latest")["timestamp"]
    # reward per item: the whole budget (the benchmark's roots are not capped below it); challenge window 0
    # (allowed on anvil's chain id): each root is claimable at once, and a claim reads the same words
    gas = _send(chain, requester, escrow.open_task(token.address, budget, now + 30 * DAY, DAY))
    return escrow.task_count(), gas


def claims_at_depth(
    chain: ChainClient, d: Deployment, op: LocalAccount, requester: LocalAccount
) -> dict[str, int]:
    escrow = TaskEscrow(chain, d.escrow)
    task_id, open_gas = _open_task(chain, d, requester, 1_000 * UNIT)
    out = {"open_task_gas": open_gas}
    for depth in (10, 20):
        fresh = Account.create().address
        root, proof = _sibling_proof_root(fresh, 10 * UNIT, depth)
        epoch = escrow.task(task_id).epoch + 1
        total = escrow.task(task_id).total + 10 * UNIT
        out["post_root_gas"] = _send(chain, op, escrow.post_root(task_id, epoch, root, total, 1))
        out[f"claim_gas_depth{depth}"] = _send(
            chain, requester, escrow.claim(task_id, fresh, 10 * UNIT, proof)
        )
    # the same account again after a later epoch raised its entitlement
    root, proof = _sibling_proof_root(fresh, 15 * UNIT, 20)
    t = escrow.task(task_id)
    _send(chain, op, escrow.post_root(task_id, t.epoch + 1, root, t.total + 5 * UNIT, 1))
    out["claim_gas_repeat_depth20"] = _send(chain, requester, escrow.claim(task_id, fresh, 15 * UNIT, proof))
    out["gasless_claim_gas_depth20"] = gasless_claim(chain, d, op, task_id)
    return out


def gasless_claim(chain: ChainClient, d: Deployment, relayer: LocalAccount, task_id: int) -> int:
    """A claim signed by a fresh account (no ETH, no token) and relayed by the operator, who holds the
    token already and takes a 1 % fee (EIP-712, ``TaskVault.claimWithSig``), at depth 20."""
    escrow, signer = TaskEscrow(chain, d.escrow), Account.create()
    _send(chain, relayer, TestToken(chain, d.token).mint(relayer.address, UNIT))
    root, proof = _sibling_proof_root(signer.address, 10 * UNIT, 20)
    t = escrow.task(task_id)
    _send(chain, relayer, escrow.post_root(task_id, t.epoch + 1, root, t.total + 10 * UNIT, 1))
    now = chain.w3.eth.get_block("latest")["timestamp"]
    vault = escrow.vault(task_id)
    auth = ClaimAuthorisation(chain.chain_id, vault.address, signer.address, 10 * UNIT, relayer.address,
                              UNIT // 10, now + DAY)  # fmt: skip
    return _send(chain, relayer, vault.claim_with_sig(SignedClaim.sign(signer, auth), proof))


def epoch_comparison(
    chain: ChainClient, d: Deployment, op: LocalAccount, payer: LocalAccount, items: int, people: int
) -> dict[str, Any]:
    token, escrow = TestToken(chain, d.token), TaskEscrow(chain, d.escrow)
    reward = UNIT
    counts = [items // people + (1 if i < items % people else 0) for i in range(people)]
    accounts = [Account.create().address for _ in range(people)]
    task_id, _ = _open_task(chain, d, payer, items * reward)
    tree = merkle.build([(a, c * reward) for a, c in zip(accounts, counts, strict=True)])
    root_gas = _send(chain, op, escrow.post_root(task_id, 1, tree.root, items * reward, items))
    claims = [
        escrow.claim(task_id, a, c * reward, tree.proof(i))
        for i, (a, c) in enumerate(zip(accounts, counts, strict=True))
    ]
    claim_gas = _send_many(chain, payer, claims, gas=200_000)
    # the naive way: one transfer per item, to a second set of fresh holders
    _send(chain, payer, token.mint(payer.address, items * reward))
    others = [Account.create().address for _ in range(people)]
    transfers = [token.transfer(others[i % people], reward) for i in range(items)]
    transfer_gas = _send_many(chain, payer, transfers, gas=100_000)
    settled = root_gas + sum(claim_gas)
    return {
        "items": items,
        "contributors": people,
        "tree_depth": len(tree.proof(0)),
        "settlement_total_gas": settled,
        "amortized_gas_per_item": settled / items,
        "erc20_transfer_total_gas": sum(transfer_gas),
        "erc20_gas_per_item": sum(transfer_gas) / items,
        "erc20_transfer_gas": transfer_gas[-1],  # to an existing holder
        "erc20_transfer_gas_fresh_holder": transfer_gas[0],
        "amortized_ratio": settled / sum(transfer_gas),
    }


def licence_purchase(chain: ChainClient, d: Deployment, publisher: LocalAccount, buyer: LocalAccount) -> int:
    token, registry, market = (
        TestToken(chain, d.token),
        DatasetRegistry(chain, d.registry),
        LicenseMarket(chain, d.market),
    )
    _send(chain, publisher, registry.create_dataset(publisher.address))
    dataset_id = 1
    _send(chain, publisher, registry.publish_version(dataset_id, "bafy" + "a" * 55, "0x" + "11" * 32, 100))
    terms = "0x" + keccak(text="CC-BY-4.0").hex()
    _send(
        chain,
        publisher,
        market.list_version(dataset_id, 1, token.address, 100 * UNIT, terms, 365 * DAY, 3000),
    )
    _send(chain, buyer, token.mint(buyer.address, 100 * UNIT))
    _send(chain, buyer, token.approve(market.address, 100 * UNIT))
    return _send(chain, buyer, market.buy(1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object only")
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--contributors", type=int, default=1_000)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    op, requester, payer, publisher, buyer = derive_dev_accounts(5)
    with tempfile.TemporaryDirectory() as tmp, AnvilNode(Path(tmp) / "chain") as node:
        chain = ChainClient(node.url)
        db = Database(f"sqlite:///{tmp}/bench.db")
        db.migrate()
        d = ensure_deployed(chain, Relay(db, chain, op), op, Path(tmp) / "deployment.json")
        result: dict[str, Any] = claims_at_depth(chain, d, op, requester)
        result["buy_licence_gas"] = licence_purchase(chain, d, publisher, buyer)
        result.update(epoch_comparison(chain, d, op, payer, args.items, args.contributors))
        db.dispose()
    result["wall_s"] = round(time.perf_counter() - t0, 1)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:34} {value:,.2f}" if isinstance(value, float) else f"{key:34} {value:,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
