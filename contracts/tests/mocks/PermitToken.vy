# pragma version ~=0.4.3
"""
@title USDC-style test token: 6 decimals and EIP-2612 permit (test only)
@custom:contract-name PermitToken
@license AGPL-3.0-only
@notice snekmate's ERC-20 with 6 decimals, so that amounts are tested in a
        token whose units are not 10**18, and with `permit`, so that a task
        can be funded with one signature and no `approve`. Anyone may mint.
"""

from snekmate.auth import ownable
from snekmate.tokens import erc20

initializes: ownable
initializes: erc20[ownable := ownable]

exports: (
    erc20.transfer,
    erc20.transferFrom,
    erc20.approve,
    erc20.balanceOf,
    erc20.allowance,
    erc20.totalSupply,
    erc20.name,
    erc20.symbol,
    erc20.decimals,
    erc20.permit,
    erc20.nonces,
    erc20.DOMAIN_SEPARATOR,
    erc20.eip712Domain,
)


@deploy
def __init__(name_: String[25], symbol_: String[5], version_: String[20]):
    ownable.__init__()
    erc20.__init__(name_, symbol_, 6, name_, version_)


@external
def mint(to: address, amount: uint256):
    """
    @dev Creates `amount` tokens for `to`. Open to everyone: tests only.
    """
    erc20._mint(to, amount)
