"""The audit log's anchors as the chain holds them, read offline (``datacoop audit verify --rpc``).

A log rewritten consistently in the database (its anchors table included) still disagrees with
the heads that DatasetRegistry recorded; :meth:`AuditLog.verify` compares against these.
"""

from __future__ import annotations

from datacoop.chain.client import ChainClient
from datacoop.chain.contracts import DatasetRegistry
from datacoop.identity.addresses import normalize_address

__all__ = ["anchors_on_chain"]


def anchors_on_chain(rpc_url: str, registry: str) -> dict[int, str]:
    """Every anchored audit-log head in the registry at ``registry``: ``{seq: hash}``.

    Raises:
        InvalidInput: (``registry``) not an address.
        Unavailable: the chain does not answer.
    """
    address = normalize_address(registry, field="registry")
    return DatasetRegistry(ChainClient(rpc_url), address).audit_anchors()
