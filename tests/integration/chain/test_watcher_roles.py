"""Roles wait for the confirmation depth too: a new stake gives review only once it is 3 blocks deep.

Real anvil, real ValidatorStaking; the reader the node builds for review (``ChainStakes``) with the
node's confirmations. Losing stake (an unbond) takes effect at once: only grants wait.
"""

from __future__ import annotations

from eth_account.signers.local import LocalAccount

from datacoop.chain.client import ChainClient
from datacoop.chain.contracts import TestToken, ValidatorStaking
from datacoop.chain.deploy import Deployment
from datacoop.review.stakes import ChainStakes

STAKE = 100 * 10**18


def test_a_stake_counts_at_the_confirmation_depth_and_an_unbond_at_once(
    chain: ChainClient, deployment: Deployment, token: TestToken, accounts: list[LocalAccount]
) -> None:
    # Prepare
    validator = accounts[3]
    staking = ValidatorStaking(chain, deployment.staking)
    stakes = ChainStakes(chain, deployment.staking, confirmations=3)
    chain.send(validator, token.mint(validator.address, STAKE).as_tx())
    chain.send(validator, token.approve(staking.address, STAKE).as_tx())
    # Execute: stake, then two more blocks; then unbond half
    chain.send(validator, staking.stake(STAKE).as_tx())
    seen = [stakes.stake_of(validator.address)]
    for _ in range(2):
        chain.rpc("evm_mine", [])
        seen.append(stakes.stake_of(validator.address))
    chain.send(validator, staking.request_unbond(STAKE // 2).as_tx())
    # Assert
    assert seen == [0, 0, STAKE]
    assert stakes.stake_of(validator.address) == STAKE // 2
    assert ChainStakes(chain, deployment.staking).stake_of(validator.address) == STAKE // 2
