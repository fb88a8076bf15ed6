"""A dataset version's record on chain, read by address, for checks made outside the node.

``datacoop dataset verify --rpc`` and the demo compare a manifest with what DatasetRegistry
holds; this opens the connection so that they need neither web3 nor the contract wrapper.
"""

from __future__ import annotations

from datacoop.chain.client import ChainClient
from datacoop.chain.contracts import DatasetRegistry
from datacoop.datasets.anchor import chain_record
from datacoop.datasets.verify import ChainRecord

__all__ = ["record_on_chain"]


def record_on_chain(
    rpc_url: str, registry: str, token_id: int, manifest_cid: str, number: int
) -> ChainRecord:
    """The version of dataset token ``token_id`` holding ``manifest_cid``, else its version ``number``.

    Raises:
        NotFound: (``token_id``) the dataset has neither.
        Unavailable: the chain does not answer.
    """
    return chain_record(DatasetRegistry(ChainClient(rpc_url), registry), token_id, manifest_cid, number)
