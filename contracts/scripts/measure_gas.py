"""Gas of DataCoop's contracts, read from real transaction receipts on a local anvil node.

    .venv/bin/python contracts/scripts/measure_gas.py            # a table
    .venv/bin/python contracts/scripts/measure_gas.py --json     # one JSON object

Starts ``node_modules/.bin/anvil`` on a free port (HOME pointed at a temporary folder so
anvil's state folders do not pile up), deploys with web3.py from the artifacts that
``datacoop.chain.artifacts`` compiles, and reports ``gasUsed`` of each transaction: the
21,000 base and the calldata are included, as a user pays them.

A claim at depth ``d`` carries a proof of ``d`` random siblings; the root is computed from
the leaf and those siblings, which costs the contract exactly what a real tree of
``2**d`` leaves would.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from eth_abi import encode
from eth_utils import keccak
from web3 import Web3
from web3.contract import Contract

from datacoop.chain.artifacts import compile_contract

REPO = Path(__file__).resolve().parents[2]
ANVIL = REPO / "node_modules" / ".bin" / "anvil"
DAY = 86_400
UNIT = 10**18


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def anvil(*extra_args: str) -> Iterator[Web3]:
    """A fresh anvil node (automine) and a web3 connected to it; stopped on exit."""
    with tempfile.TemporaryDirectory(prefix="datacoop-gas-") as home:
        port = _free_port()
        env = {**os.environ, "HOME": home}
        proc = subprocess.Popen(
            [str(ANVIL), "--port", str(port), "--silent", "--accounts", "10", *extra_args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            w3 = Web3(Web3.HTTPProvider(f"http://127.0.0.1:{port}"))
            for _ in range(200):
                if proc.poll() is not None:
                    raise RuntimeError(f"anvil exited with {proc.returncode}")
                try:
                    if w3.is_connected():
                        break
                except Exception:
                    pass
                time.sleep(0.02)
            else:
                raise RuntimeError("anvil did not answer")
            yield w3
        finally:
            proc.terminate()
            proc.wait(timeout=10)


class Chain:
    """Deploy and transact with anvil's unlocked dev accounts; every call returns its receipt."""

    def __init__(self, w3: Web3) -> None:
        self.w3 = w3
        self.accounts = list(w3.eth.accounts)

    def deploy(self, name: str, *args: Any, sender: int = 0, source_dir: Path | None = None) -> Contract:
        artifact = compile_contract(name, source_dir=source_dir)
        factory = self.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        receipt = self._wait(factory.constructor(*args).transact({"from": self.accounts[sender]}))
        return self.w3.eth.contract(address=receipt["contractAddress"], abi=artifact.abi)

    def send(self, call: Any, sender: int | str = 0) -> Any:
        frm = self.accounts[sender] if isinstance(sender, int) else sender
        receipt = self._wait(call.transact({"from": frm}))
        if receipt["status"] != 1:
            raise RuntimeError(f"transaction reverted: {receipt}")
        return receipt

    def warp(self, seconds: int) -> None:
        self.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
        self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def _wait(self, tx_hash: Any) -> Any:
        return self.w3.eth.wait_for_transaction_receipt(tx_hash, poll_latency=0.005)


def leaf(account: str, amount: int) -> bytes:
    """OpenZeppelin StandardMerkleTree leaf of ``(address, uint256)``."""
    return keccak(keccak(encode(["address", "uint256"], [account, amount])))


def random_proof(account: str, amount: int, depth: int) -> tuple[bytes, list[bytes]]:
    """A root and a proof of ``depth`` random siblings that leads from the leaf to it."""
    node, proof = leaf(account, amount), [secrets.token_bytes(32) for _ in range(depth)]
    for sibling in proof:
        node = keccak(node + sibling if node < sibling else sibling + node)
    return node, proof


def fresh_account(chain: Chain) -> str:
    """A brand-new address (never seen by the token or the escrow)."""
    return Web3.to_checksum_address(secrets.token_bytes(20))


def measure() -> dict[str, int]:
    """Every figure, in one fresh anvil."""
    gas: dict[str, int] = {}
    with anvil() as w3:
        chain = Chain(w3)
        admin, requester, holder = chain.accounts[0], chain.accounts[1], chain.accounts[2]
        token = chain.deploy("TestToken", "DataCoop Test", "DCT", 18)
        escrow = chain.deploy("TaskEscrow", admin)

        chain.send(token.functions.mint(requester, 10**9 * UNIT))
        chain.send(token.functions.mint(holder, UNIT))
        gas["erc20_transfer_gas_new_holder"] = chain.send(
            token.functions.transfer(fresh_account(chain), UNIT), requester
        )["gasUsed"]
        gas["erc20_transfer_gas"] = chain.send(token.functions.transfer(holder, UNIT), requester)["gasUsed"]
        chain.send(token.functions.approve(escrow.address, 2**256 - 1), requester)

        deadline = chain.now() + 30 * DAY
        gas["open_task_gas"] = chain.send(
            escrow.functions.openTask(token.address, 10**6 * UNIT, deadline, 7 * DAY), requester
        )["gasUsed"]
        gas["top_up_gas"] = chain.send(escrow.functions.topUp(1, 1000 * UNIT), requester)["gasUsed"]

        epoch = 0

        def post(root: bytes, total: int) -> int:
            nonlocal epoch
            epoch += 1
            return int(chain.send(escrow.functions.postRoot(1, epoch, root, total))["gasUsed"])

        def claim(account: str, amount: int, proof: list[bytes]) -> int:
            return int(chain.send(escrow.functions.claim(1, account, amount, proof), requester)["gasUsed"])

        total = 0
        for depth, key in ((10, "claim_gas_depth10"), (20, "claim_gas_depth20")):
            account = fresh_account(chain)
            total += 5 * UNIT
            root, proof = random_proof(account, 5 * UNIT, depth)
            gas[f"post_root_gas_epoch{epoch + 1}"] = post(root, total)
            gas[key] = claim(account, 5 * UNIT, proof)
        gas["post_root_gas"] = gas.pop("post_root_gas_epoch2")

        # A fresh claimer that already holds the token (its balance slot is not new).
        total += 5 * UNIT
        root, proof = random_proof(holder, 5 * UNIT, 20)
        post(root, total)
        gas["claim_gas_depth20_holder"] = claim(holder, 5 * UNIT, proof)

        # The same account again after a later epoch raised its cumulative entitlement.
        total += 3 * UNIT
        root, proof = random_proof(holder, 8 * UNIT, 20)
        post(root, total)
        gas["claim_gas_repeat_depth20"] = claim(holder, 8 * UNIT, proof)

        chain.warp(40 * DAY)
        gas["refund_gas"] = chain.send(escrow.functions.refund(1), requester)["gasUsed"]
    return gas


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    gas = measure()
    if args.json:
        print(json.dumps(gas, indent=2, sort_keys=True))
    else:
        width = max(map(len, gas))
        for key, value in gas.items():
            print(f"{key:<{width}}  {value:>9,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
