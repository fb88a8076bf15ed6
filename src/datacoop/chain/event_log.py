"""The events a chain watcher keeps: logs decoded by name through the compiled ABIs, and the reads on them.

:class:`EventDecoder` turns a raw log of one of the deployment's contracts into its event name and
arguments, using the ABI of the contract as compiled now (:func:`datacoop.chain.artifacts.compile_contract`),
so an event whose fields change is decoded the new way without a line changed here. Arguments are
kept JSON-ready: unsigned integers as decimal text, bytes as 0x-hex, addresses checksummed.

:func:`final_event` and :func:`depth_of` are what consumers (the exchange) read: an event counts only
once the watcher has processed ``confirmations`` blocks ending with the event's own
(:mod:`datacoop.chain.watcher` deletes the events of blocks a reorg took away).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_utils.abi import collapse_if_tuple, event_abi_to_log_topic
from sqlalchemy import select
from sqlalchemy.orm import Session
from web3 import Web3

from datacoop.chain.artifacts import compile_contract
from datacoop.db.models import ChainCursor, ChainEvent

__all__ = ["DecodedEvent", "EventDecoder", "RawLog", "depth_of", "final_event", "final_through"]


@dataclass(frozen=True)
class RawLog:
    """A log as the chain gives it (``eth_getLogs``)."""

    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int
    address: str
    topics: tuple[bytes, ...]
    data: bytes


@dataclass(frozen=True)
class DecodedEvent:
    log: RawLog
    contract: str
    name: str
    args: dict[str, Any]


def _plain(value: Any, abi_type: str) -> Any:
    """A decoded ABI value in JSON-ready form (why text: uint256 does not fit a JSON number everywhere)."""
    if isinstance(value, list | tuple):
        return [_plain(v, abi_type.rsplit("[", 1)[0]) for v in value]
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if abi_type == "address":
        return Web3.to_checksum_address(value)
    return value


class EventDecoder:
    """Decodes the logs of named contracts (``{address: contract name}``) by their compiled ABIs."""

    def __init__(self, contracts: dict[str, str]) -> None:
        self.contracts = {Web3.to_checksum_address(a): name for a, name in contracts.items()}
        self._events: dict[tuple[str, bytes], dict[str, Any]] = {}
        for name in set(self.contracts.values()):
            for item in compile_contract(name).abi:
                if item.get("type") == "event" and not item.get("anonymous"):
                    self._events[(name, bytes(event_abi_to_log_topic(item)))] = item  # type: ignore[arg-type]

    def decode(self, log: RawLog) -> DecodedEvent | None:
        """The event of ``log``, or None for a log no ABI of ours describes (an older contract's)."""
        contract = self.contracts.get(Web3.to_checksum_address(log.address))
        abi = self._events.get((contract or "", log.topics[0] if log.topics else b""))
        if contract is None or abi is None:
            return None
        indexed = [i for i in abi["inputs"] if i["indexed"]]
        plain = [i for i in abi["inputs"] if not i["indexed"]]
        args: dict[str, Any] = {}
        for item, topic in zip(indexed, log.topics[1:], strict=True):
            kind = collapse_if_tuple(item)
            # an indexed dynamic value is stored as its hash: kept as the 32 bytes it is
            args[item["name"]] = _plain(abi_decode([kind], topic)[0] if _static(kind) else topic, kind)
        values = abi_decode([collapse_if_tuple(i) for i in plain], log.data)
        args |= {i["name"]: _plain(v, collapse_if_tuple(i)) for i, v in zip(plain, values, strict=True)}
        return DecodedEvent(log, contract, abi["name"], args)


def _static(kind: str) -> bool:
    return kind not in ("string", "bytes") and not kind.endswith("]") and not kind.startswith("(")


def final_through(cursor: ChainCursor, confirmations: int) -> int:
    """The newest block whose events count: ``confirmations`` processed blocks end with it."""
    return cursor.block_number - confirmations + 1


def final_event(s: Session, cursor: str, confirmations: int, *, name: str, tx_hash: str) -> ChainEvent | None:
    """The first ``name`` event of ``tx_hash`` once it is final, else None."""
    row = s.get(ChainCursor, cursor)
    if row is None:
        return None
    return s.scalar(
        select(ChainEvent)
        .where(
            ChainEvent.cursor == cursor,
            ChainEvent.tx_hash == tx_hash.lower(),
            ChainEvent.name == name,
            ChainEvent.block_number <= final_through(row, confirmations),
        )
        .order_by(ChainEvent.log_index)
        .limit(1)
    )


def depth_of(s: Session, cursor: str, tx_hash: str) -> int | None:
    """How many processed blocks end with ``tx_hash``'s block (1: just read); None if none is kept."""
    row = s.get(ChainCursor, cursor)
    block = s.scalar(
        select(ChainEvent.block_number).where(
            ChainEvent.cursor == cursor, ChainEvent.tx_hash == tx_hash.lower()
        )
    )
    return None if row is None or block is None else row.block_number - block + 1
