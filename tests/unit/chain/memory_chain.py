"""A chain in memory that the watcher reads like any other: blocks linked by hash, logs, and reorgs.

It stands in for the JSON-RPC endpoint (:class:`datacoop.chain.watch_rpc.RpcReader` on anvil is tested
in tests/integration/chain) so that forks of any depth can be built block by block, in milliseconds.
Its logs are real ABI encodings of LicenseMarket's ``LicenceSold``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from eth_abi.abi import encode
from eth_utils.abi import event_abi_to_log_topic
from web3 import Web3

from datacoop.chain.artifacts import compile_contract
from datacoop.chain.event_log import RawLog
from datacoop.chain.watcher import Header

MARKET = Web3.to_checksum_address("0x" + "4d" * 20)
OTHER = Web3.to_checksum_address("0x" + "0e" * 20)
_SOLD = next(e for e in compile_contract("LicenseMarket").abi if e.get("name") == "LicenceSold")


def sold(licence_id: int, buyer: str, amount: int = 1_000, address: str = MARKET) -> tuple[str, bytes, bytes]:
    """A LicenceSold log body (address, topics, data) for listing 1."""
    topics = [
        bytes(event_abi_to_log_topic(_SOLD)),  # type: ignore[arg-type]
        encode(["uint256"], [1]),
        encode(["uint256"], [licence_id]),
        encode(["address"], [buyer]),
    ]
    data = encode(["uint256"] * 5, [amount, amount // 10, amount - amount // 5, amount // 10, 2**40])
    return address, b"".join(topics), data


@dataclass
class Block:
    number: int
    hash: str
    parent: str
    logs: list[tuple[str, bytes, bytes]] = field(default_factory=list)


class MemoryChain:
    """Blocks from genesis; ``mine`` appends, ``reorg`` replaces the newest blocks with others."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self.blocks = [Block(0, self._hash(), "0x" + "00" * 32)]
        self.log_calls: list[tuple[int, int]] = []

    def _hash(self) -> str:
        return "0x" + Web3.keccak(text=f"block {next(self._ids)}").hex().removeprefix("0x")

    def mine(self, *logs: tuple[str, bytes, bytes], empty: int = 0) -> Block:
        """One block holding ``logs``, then ``empty`` blocks without; the first of them."""
        first = self._append(list(logs))
        for _ in range(empty):
            self._append([])
        return first

    def _append(self, logs: list[tuple[str, bytes, bytes]]) -> Block:
        top = self.blocks[-1]
        block = Block(top.number + 1, self._hash(), top.hash, logs)
        self.blocks.append(block)
        return block

    def reorg(self, depth: int) -> None:
        """Drop the newest ``depth`` blocks (mine others after to make the fork longer)."""
        del self.blocks[len(self.blocks) - depth :]

    # --- ChainReader --------------------------------------------------------------------------

    def head(self) -> int:
        return self.blocks[-1].number

    def header(self, number: int) -> Header | None:
        if not 0 <= number < len(self.blocks):
            return None
        b = self.blocks[number]
        return Header(b.number, b.hash, b.parent)

    def logs(self, addresses: list[str], first: int, last: int) -> list[RawLog]:
        self.log_calls.append((first, last))
        found = []
        for b in self.blocks[first : last + 1]:
            for index, (address, topics, data) in enumerate(b.logs):
                if address in addresses:
                    tx = "0x" + Web3.keccak(text=f"{b.hash}:{index}").hex().removeprefix("0x")
                    parts = tuple(topics[i : i + 32] for i in range(0, len(topics), 32))
                    found.append(RawLog(b.number, b.hash, tx, index, address, parts, data))
        return found
