"""What a buyer's or a contributor's wallet does on LicenseMarket: their own transactions, not the node's.

A buyer pays for a licence and a contributor claims royalties with their own key, straight to the
chain at ``rpc_url``; the node only learns of them afterwards (an order names the ``buy`` transaction).
The command line calls these, so it never holds a web3 connection or a contract wrapper itself.
"""

from __future__ import annotations

from eth_account.signers.local import LocalAccount

from datacoop.chain.client import ChainClient
from datacoop.chain.contracts import LicenseMarket, TestToken

__all__ = ["approve_and_buy", "claim_royalty"]


def approve_and_buy(
    rpc_url: str, account: LocalAccount, *, market: str, token: str, market_listing_id: int, price: int
) -> str:
    """Approve ``price`` base units of ``token`` for the market, then buy a licence; the ``buy`` tx hash.

    Raises:
        Conflict: the token or the market refused (the contract's reason).
    """
    chain = ChainClient(rpc_url)
    seller = LicenseMarket(chain, market)
    chain.send(account, TestToken(chain, token).approve(seller.address, price).as_tx())
    return chain.send(account, seller.buy(market_listing_id).as_tx()).tx_hash


def claim_royalty(
    rpc_url: str,
    account: LocalAccount,
    *,
    market: str,
    market_listing_id: int,
    cumulative: int,
    proof: list[str],
) -> str:
    """Claim ``account``'s cumulative royalty of one listing from the market; the transaction hash."""
    chain = ChainClient(rpc_url)
    req = LicenseMarket(chain, market).claim_royalty(market_listing_id, account.address, cumulative, proof)
    return chain.send(account, req.as_tx()).tx_hash
