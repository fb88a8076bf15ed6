# pragma version ~=0.4.3
"""
@title DataCoop test token
@custom:contract-name TestToken
@license AGPL-3.0-only
@notice A plain ERC-20 (snekmate) for local chains only: ANYONE may mint
        any amount to anyone (`mint`), which makes it a faucet for dev
        accounts and tests. Never deploy it where tokens have value.
"""

from snekmate.auth import ownable
from snekmate.tokens import erc20

initializes: ownable
initializes: erc20[ownable := ownable]

# Everything of snekmate's ERC-20 except its minter-role machinery, which an
# open faucet does not need.
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
    erc20.burn,
    erc20.burn_from,
    erc20.permit,
    erc20.nonces,
    erc20.DOMAIN_SEPARATOR,
    erc20.eip712Domain,
)


@deploy
def __init__(name_: String[25], symbol_: String[5], decimals_: uint8):
    ownable.__init__()
    erc20.__init__(name_, symbol_, decimals_, name_, "1")


@external
def mint(to: address, amount: uint256):
    """
    @dev Creates `amount` tokens for `to`. Open to everyone: local chains only.
    """
    erc20._mint(to, amount)
