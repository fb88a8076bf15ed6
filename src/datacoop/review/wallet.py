"""What a validator's wallet does on ValidatorStaking: their own transactions, not the node's.

Review reads stakes (:mod:`datacoop.review.stakes`); a validator stakes with their own key,
straight to the chain at ``rpc_url``.
"""

from __future__ import annotations

from eth_account.signers.local import LocalAccount

from datacoop.chain.client import ChainClient
from datacoop.chain.contracts import TestToken, ValidatorStaking

__all__ = ["stake"]


def stake(rpc_url: str, account: LocalAccount, *, token: str, staking: str, amount: int) -> str:
    """Approve ``amount`` base units for the staking contract and stake them; the ``stake`` tx hash.

    Raises:
        Conflict: the token or the staking contract refused (the contract's reason).
    """
    chain = ChainClient(rpc_url)
    contract = ValidatorStaking(chain, staking)
    chain.send(account, TestToken(chain, token).approve(contract.address, amount).as_tx())
    return chain.send(account, contract.stake(amount).as_tx()).tx_hash
