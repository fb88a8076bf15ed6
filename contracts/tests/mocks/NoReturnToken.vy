# pragma version ~=0.4.3
"""
@title ERC-20 whose transfer functions return nothing (USDT-style, test only)
@license AGPL-3.0-only
@notice Reverts on a short balance or allowance, returns no data on success.
"""
from . import token_base

initializes: token_base

exports: (token_base.balanceOf, token_base.allowance, token_base.totalSupply)


@external
def mint(to: address, amount: uint256):
    token_base._mint(to, amount)


@external
def approve(spender: address, amount: uint256):
    token_base._approve(msg.sender, spender, amount)


@external
def transfer(to: address, amount: uint256):
    token_base._move(msg.sender, msg.sender, to, amount, False)


@external
def transferFrom(owner: address, to: address, amount: uint256):
    token_base._move(owner, msg.sender, to, amount, True)
