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

from eth_abi.abi import encode
from eth_utils.crypto import keccak
from web3 import Web3
from web3.contract import Contract

from datacoop.chain.artifacts import compile_contract

REPO = Path(__file__).resolve().parents[2]
ANVIL = REPO / "node_modules" / ".bin" / "anvil"
REFERENCE = REPO / "contracts" / "tests" / "reference"
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
        contract: Contract = self.w3.eth.contract(address=receipt["contractAddress"], abi=artifact.abi)
        return contract

    def deploy_blueprint(self, name: str, sender: int = 0) -> str:
        """Deploy ``name``'s init code as an EIP-5202 blueprint; returns its address."""
        artifact = compile_contract(name)
        tx = {"from": self.accounts[sender], "data": "0x" + artifact.blueprint_bytecode.hex()}
        receipt = self._wait(self.w3.eth.send_transaction(tx))  # type: ignore[arg-type]
        return str(receipt["contractAddress"])

    def escrow(self, operator: str, token: Contract) -> Contract:
        """A TaskEscrow factory with its TaskVault blueprint (and a ValidatorStaking for disputes)."""
        staking = self.deploy("ValidatorStaking", *self.staking_args(token, operator))
        return self.deploy("TaskEscrow", operator, self.deploy_blueprint("TaskVault"), staking.address)

    def staking_args(self, token: Contract, operator: str) -> list[Any]:
        """ValidatorStaking's constructor arguments (treasury account 7, admin account 0, a day's delays,
        10 % cap), for the constructor with or without the appeal period and cap."""
        abi = compile_contract("ValidatorStaking").abi
        inputs = next(e for e in abi if e["type"] == "constructor")["inputs"]
        args: list[Any] = [token.address, self.accounts[7], DAY, operator]
        return args if len(inputs) == 4 else [*args, self.accounts[0], DAY, 1000]

    def vault(self, escrow: Contract, task_id: int) -> Contract:
        """The TaskVault of ``task_id``."""
        abi = compile_contract("TaskVault").abi
        contract: Contract = self.w3.eth.contract(address=escrow.functions.vaultOf(task_id).call(), abi=abi)
        return contract

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


def fresh_account() -> str:
    """A brand-new address (never seen by the token or the escrow)."""
    return str(Web3.to_checksum_address(secrets.token_bytes(20)))


def gas_of(receipt: Any) -> int:
    return int(receipt["gasUsed"])


def measure_escrow(chain: Chain, token: Contract, gas: dict[str, int]) -> None:
    """Open, top up, roots, claims at depth 10 and 20 (fresh, holder, repeat), refund.

    Claims go straight to the task's vault, as a contributor's wallet sends them.
    """
    admin, requester, holder = chain.accounts[0], chain.accounts[1], chain.accounts[2]
    escrow = chain.escrow(admin, token)
    chain.send(token.functions.mint(holder, UNIT))
    chain.send(token.functions.approve(escrow.address, 2**256 - 1), requester)
    deadline = chain.now() + 30 * DAY
    # anvil's chain id is the local one: a challenge window of 0 makes each root claimable at once
    # (a claim reads the same words inside a window as after it).
    opening = escrow.functions.openTask(token.address, 10**6 * UNIT, deadline, 7 * DAY, 100 * UNIT, 0)
    gas["open_task_gas"] = gas_of(chain.send(opening, requester))
    gas["top_up_gas"] = gas_of(chain.send(escrow.functions.topUp(1, 1000 * UNIT), requester))
    vault = chain.vault(escrow, 1)
    state = {"epoch": 0, "total": 0}

    def post(root: bytes, added: int) -> int:
        state["epoch"] += 1
        state["total"] += added
        call = escrow.functions.postRoot(1, state["epoch"], root, state["total"], 1)
        return gas_of(chain.send(call))

    def claim(account: str, amount: int, proof: list[bytes]) -> int:
        return gas_of(chain.send(vault.functions.claim(account, amount, proof), requester))

    for depth in (10, 20):
        account = fresh_account()  # holds no token yet: its balance slot is new too
        root, proof = random_proof(account, 5 * UNIT, depth)
        gas["post_root_gas" if depth == 20 else "post_first_root_gas"] = post(root, 5 * UNIT)
        gas[f"claim_gas_depth{depth}"] = claim(account, 5 * UNIT, proof)
    # A first claim by an account that already holds the token.
    root, proof = random_proof(holder, 5 * UNIT, 20)
    post(root, 5 * UNIT)
    gas["claim_gas_depth20_token_holder"] = claim(holder, 5 * UNIT, proof)
    # The same account again after a later epoch raised its cumulative entitlement.
    root, proof = random_proof(holder, 8 * UNIT, 20)
    post(root, 3 * UNIT)
    gas["claim_gas_repeat_depth20"] = claim(holder, 8 * UNIT, proof)
    measure_gasless(chain, vault, post, gas)
    chain.warp(40 * DAY)
    gas["refund_gas"] = gas_of(chain.send(escrow.functions.refund(1), requester))


def measure_gasless(chain: Chain, vault: Contract, post: Any, gas: dict[str, int]) -> None:
    """Gasless claims at depth 20 relayed by a token holder, 1 % to the relayer: a fresh account
    (no token, no ETH), then the same account again after a later root."""
    from eth_account import Account

    from datacoop.chain.gasless import ClaimAuthorisation, SignedClaim

    relayer, signer = chain.accounts[2], Account.create()

    def relay(amount: int, fee: int) -> int:
        root, proof = random_proof(signer.address, amount, 20)
        post(root, 5 * UNIT)
        auth = ClaimAuthorisation(
            chain.w3.eth.chain_id, vault.address, signer.address, amount, relayer, fee, chain.now() + DAY
        )
        signed = SignedClaim.sign(signer, auth)
        call = vault.functions.claimWithSig(
            signer.address, amount, proof, relayer, fee, auth.deadline, signed.v, signed.r, signed.s
        )
        return gas_of(chain.send(call, relayer))

    gas["gasless_claim_gas_depth20"] = relay(5 * UNIT, 5 * UNIT // 100)
    gas["gasless_claim_gas_repeat_depth20"] = relay(10 * UNIT, 5 * UNIT // 100)
    signer = Account.create()  # a relayer working for free: no second transfer
    gas["gasless_claim_gas_depth20_no_fee"] = relay(5 * UNIT, 0)


def measure_settlement(
    chain: Chain, token: Contract, gas: dict[str, int], items: int, contributors: int
) -> None:
    """One epoch of `items` accepted items by `contributors` fresh accounts: root + every claim.

    Beside it, paying each item with its own ERC-20 transfer: the first to each contributor
    creates its balance, the others add to it (both measured, then weighted).
    """
    from datacoop.merkle import build

    admin, requester = chain.accounts[0], chain.accounts[1]
    escrow = chain.escrow(admin, token)
    chain.send(token.functions.approve(escrow.address, 2**256 - 1), requester)
    per_item = 10**17
    counts = [items // contributors + (1 if i < items % contributors else 0) for i in range(contributors)]
    values = [(fresh_account(), n * per_item) for n in counts]
    budget = items * per_item
    opening = escrow.functions.openTask(token.address, budget, chain.now() + 30 * DAY, 7 * DAY, per_item, 0)
    chain.send(opening, requester)
    tree = build(values)
    vault = chain.vault(escrow, 1)
    used = gas_of(chain.send(escrow.functions.postRoot(1, 1, bytes.fromhex(tree.root[2:]), budget, items)))
    for (account, amount), proof in zip(values, tree.proofs(), strict=True):
        call = vault.functions.claim(account, amount, [bytes.fromhex(p[2:]) for p in proof])
        used += gas_of(chain.send(call, requester))
    gas["settlement_epoch_gas"] = used
    gas["amortized_gas_per_item"] = round(used / items)
    first = gas["erc20_transfer_gas_new_holder"]
    later = gas["erc20_transfer_gas"]
    gas["transfer_per_item_gas"] = round((contributors * first + (items - contributors) * later) / items)


def measure_reference(chain: Chain, token: Contract, gas: dict[str, int]) -> None:
    """The same claims (depth 20: a fresh account, then that account again after a new root)
    through one-distribution-per-contract references (`contracts/tests/reference`): what the
    goals' contracts cost in this Vyper, without and with a cap at the posted total."""
    for name, key in (("ReferenceDrop", "reference"), ("ReferenceCappedDrop", "reference_capped")):
        drop = chain.deploy(name, token.address, source_dir=REFERENCE)
        chain.send(token.functions.mint(drop.address, 1000 * UNIT))
        capped = name == "ReferenceCappedDrop"

        def claim(account: str, amount: int, added: int, drop: Contract = drop, capped: bool = capped) -> int:
            root, proof = random_proof(account, amount, 20)
            chain.send(drop.functions.setRoot(root, added) if capped else drop.functions.setRoot(root))
            return gas_of(chain.send(drop.functions.claim(account, amount, proof), chain.accounts[1]))

        account = fresh_account()
        gas[f"{key}_claim_gas_depth20"] = claim(account, 5 * UNIT, 5 * UNIT)
        gas[f"{key}_claim_gas_repeat_depth20"] = claim(account, 8 * UNIT, 3 * UNIT)


def measure_registry_and_market(chain: Chain, token: Contract, gas: dict[str, int]) -> None:
    admin, publisher, buyer = chain.accounts[0], chain.accounts[3], chain.accounts[4]
    registry = chain.deploy("DatasetRegistry")
    market = chain.deploy("LicenseMarket", registry.address, admin, chain.accounts[5], 500)
    gas["create_dataset_gas"] = gas_of(chain.send(registry.functions.createDataset(publisher), publisher))
    cid = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"
    gas["publish_version_gas"] = gas_of(
        chain.send(registry.functions.publishVersion(1, cid, b"\x11" * 32, 10_000), publisher)
    )
    gas["list_gas"] = gas_of(
        chain.send(
            market.functions.list(1, 1, token.address, 100 * UNIT, b"\x22" * 32, 30 * DAY, 3000), publisher
        )
    )
    chain.send(token.functions.mint(buyer, 10**6 * UNIT))
    chain.send(token.functions.approve(market.address, 2**256 - 1), buyer)
    gas["buy_licence_gas_first"] = gas_of(chain.send(market.functions.buy(1), buyer))
    gas["buy_licence_gas"] = gas_of(chain.send(market.functions.buy(1), buyer))
    contributor = fresh_account()
    root, proof = random_proof(contributor, 30 * UNIT, 10)
    gas["post_royalty_root_gas"] = gas_of(chain.send(market.functions.postRoyaltyRoot(1, 1, root, 60 * UNIT)))
    gas["claim_royalty_gas_depth10"] = gas_of(
        chain.send(market.functions.claimRoyalty(1, contributor, 30 * UNIT, proof), buyer)
    )


def measure_staking(chain: Chain, token: Contract, gas: dict[str, int]) -> None:
    admin, validator = chain.accounts[0], chain.accounts[6]
    staking = chain.deploy("ValidatorStaking", *chain.staking_args(token, admin))
    chain.send(token.functions.mint(validator, 1000 * UNIT))
    chain.send(token.functions.approve(staking.address, 2**256 - 1), validator)
    gas["stake_gas"] = gas_of(chain.send(staking.functions.stake(100 * UNIT), validator))
    gas["request_unbond_gas"] = gas_of(chain.send(staking.functions.requestUnbond(40 * UNIT), validator))
    if any(e.get("name") == "slash" and len(e["inputs"]) == 3 for e in staking.abi):  # the one-step slash
        gas["slash_gas"] = gas_of(chain.send(staking.functions.slash(validator, 10 * UNIT, b"\x33" * 32)))
    if any(e.get("name") == "recordIncident" for e in staking.abi):  # slashing by a recorded incident
        evidence = b"\x33" * 32
        record = staking.functions.recordIncident(validator, 10 * UNIT, evidence)
        gas["record_incident_gas"] = gas_of(chain.send(record))
        chain.warp(DAY)  # the appeal period of staking_args
        gas["execute_slash_gas"] = gas_of(chain.send(staking.functions.executeSlash(evidence), validator))
    chain.warp(DAY)
    gas["withdraw_gas"] = gas_of(chain.send(staking.functions.withdraw(), validator))


def measure(items: int = 10_000, contributors: int = 1_000) -> dict[str, int]:
    """Every figure, in one fresh anvil."""
    gas: dict[str, int] = {}
    with anvil() as w3:
        chain = Chain(w3)
        requester = chain.accounts[1]
        token = chain.deploy("TestToken", "DataCoop Test", "DCT", 18)
        chain.send(token.functions.mint(requester, 10**9 * UNIT))
        chain.send(token.functions.mint(chain.accounts[2], UNIT))
        gas["erc20_transfer_gas_new_holder"] = gas_of(
            chain.send(token.functions.transfer(fresh_account(), UNIT), requester)
        )
        gas["erc20_transfer_gas"] = gas_of(
            chain.send(token.functions.transfer(chain.accounts[2], UNIT), requester)
        )
        measure_escrow(chain, token, gas)
        measure_reference(chain, token, gas)
        measure_registry_and_market(chain, token, gas)
        measure_staking(chain, token, gas)
        if items:
            measure_settlement(chain, token, gas, items, contributors)
    return gas


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--items", type=int, default=10_000, help="items in the settled epoch (0: skip it)")
    parser.add_argument("--contributors", type=int, default=1_000, help="contributors in the settled epoch")
    args = parser.parse_args(argv)
    gas = measure(args.items, args.contributors)
    if args.json:
        print(json.dumps(gas, indent=2, sort_keys=True))
    else:
        width = max(map(len, gas))
        for key, value in gas.items():
            print(f"{key:<{width}}  {value:>9,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
