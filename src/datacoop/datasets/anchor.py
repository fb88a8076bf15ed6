"""Dataset versions on chain: DatasetRegistry's records and what its receipts say.

The node publishes a version in two operator transactions sent through the outbox: one
``createDataset`` per dataset (the operator holds the token, so it may publish for a
requester who holds no gas), then ``publishVersion`` per version, in version order.
"""

from __future__ import annotations

from web3.logs import DISCARD

from datacoop.chain.client import ChainClient
from datacoop.chain.contracts import DatasetRegistry
from datacoop.datasets.verify import ChainRecord
from datacoop.errors import NotFound

__all__ = ["chain_record", "created_token_id", "published_version"]


def chain_record(registry: DatasetRegistry, token_id: int, manifest_cid: str, number: int) -> ChainRecord:
    """The registry's version holding ``manifest_cid``, else its version ``number``.

    Raises:
        NotFound: (``token_id``) the dataset has neither.
    """
    count = registry.version_count(token_id)
    versions = {n: registry.version(token_id, n) for n in range(1, count + 1)}
    found = next((v for v in versions.values() if v["manifest_cid"] == manifest_cid), versions.get(number))
    if found is None:
        raise NotFound(
            f"dataset token {token_id} has {count} version(s) on chain and none is {manifest_cid}",
            field="token_id",
        )
    return ChainRecord(found["manifest_cid"], found["items_root"], int(found["item_count"]))


def _events(client: ChainClient, registry: DatasetRegistry, tx_hash: str, event: str) -> list[dict[str, int]]:
    receipt = client.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
    logs = registry.contract.events[event]().process_receipt(receipt, errors=DISCARD)
    return [dict(log["args"]) for log in logs]


def created_token_id(client: ChainClient, registry: DatasetRegistry, tx_hash: str) -> int | None:
    """The token id a confirmed ``createDataset`` minted, from its DatasetCreated event."""
    events = _events(client, registry, tx_hash, "DatasetCreated")
    return int(events[0]["tokenId"]) if events else None


def published_version(client: ChainClient, registry: DatasetRegistry, tx_hash: str) -> int | None:
    """The version number a confirmed ``publishVersion`` got, from its VersionPublished event."""
    events = _events(client, registry, tx_hash, "VersionPublished")
    return int(events[0]["version"]) if events else None
