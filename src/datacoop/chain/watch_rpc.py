"""The chain watcher's reader over JSON-RPC, and the watcher a node builds for its deployment."""

from __future__ import annotations

import functools
import hashlib
from typing import Any

from web3 import Web3
from web3.exceptions import BlockNotFound, Web3RPCError

from datacoop.chain.client import ChainClient
from datacoop.chain.deploy import Deployment
from datacoop.chain.event_log import RawLog
from datacoop.chain.lease import OutboxLease
from datacoop.chain.watcher import ChainWatcher, Header
from datacoop.clock import Clock, utc_now
from datacoop.db import Database

__all__ = ["RpcReader", "deployed_at", "watch_deployment"]


def _hex(value: bytes) -> str:
    return "0x" + bytes(value).hex()


class RpcReader:
    """:class:`~datacoop.chain.watcher.ChainReader` over any EVM JSON-RPC endpoint."""

    def __init__(self, client: ChainClient) -> None:
        self._client = client

    def head(self) -> int:
        return self._client.block_number()

    def header(self, number: int) -> Header | None:
        try:
            block = self._client.w3.eth.get_block(number)
        except BlockNotFound:
            return None
        return Header(int(block["number"]), _hex(block["hash"]), _hex(block["parentHash"]))

    def logs(self, addresses: list[str], first: int, last: int) -> list[RawLog]:
        found = self._client.w3.eth.get_logs({"address": addresses, "fromBlock": first, "toBlock": last})  # type: ignore[typeddict-item]
        return [_raw(e) for e in found if not e.get("removed")]


def _raw(e: Any) -> RawLog:
    return RawLog(
        block_number=int(e["blockNumber"]), block_hash=_hex(e["blockHash"]),
        tx_hash=_hex(e["transactionHash"]), log_index=int(e["logIndex"]),
        address=Web3.to_checksum_address(e["address"]),
        topics=tuple(bytes(t) for t in e["topics"]), data=bytes(e["data"]),
    )  # fmt: skip


def deployed_at(client: ChainClient, address: str) -> int:
    """The first block where ``address`` has code (a binary search of ``eth_getCode``); 0 where the node
    keeps no old state to ask (a pruned node: the watcher then reads from genesis)."""
    target = Web3.to_checksum_address(address)
    low, high = 0, client.block_number()
    try:
        while low < high:
            mid = (low + high) // 2
            if client.w3.eth.get_code(target, block_identifier=mid):
                high = mid
            else:
                low = mid + 1
    except Web3RPCError:
        return 0
    return low


def watch_deployment(
    db: Database,
    client: ChainClient,
    deployment: Deployment,
    lease: OutboxLease,
    *,
    confirmations: int,
    clock: Clock = utc_now,
) -> ChainWatcher:
    """The watcher of a deployment's escrow, registry, market and staking contracts, one cursor per
    chain and deployment (a new deployment on the same chain starts a cursor of its own)."""
    contracts = {
        deployment.escrow: "TaskEscrow",
        deployment.registry: "DatasetRegistry",
        deployment.market: "LicenseMarket",
        deployment.staking: "ValidatorStaking",
    }
    key = hashlib.sha256(",".join(sorted(a.lower() for a in contracts)).encode()).hexdigest()[:16]
    return ChainWatcher(
        db, RpcReader(client), contracts, name=f"{client.chain_id}:{key}", chain_id=client.chain_id,
        confirmations=confirmations, lease=lease, clock=clock,
        start_block=functools.partial(deployed_at, client, deployment.escrow),  # searched only when fresh
    )  # fmt: skip
