# pragma version ~=0.4.3
"""
@title Fee-on-transfer ERC-20 (test only)
@license AGPL-3.0-only
@notice Every transfer delivers 99 % and burns 1 % (rounded down).
"""
from . import token_base

initializes: token_base

exports: (token_base.balanceOf, token_base.allowance, token_base.totalSupply)

FEE_BPS: constant(uint256) = 100


@external
def mint(to: address, amount: uint256):
    token_base._mint(to, amount)


@external
def approve(spender: address, amount: uint256) -> bool:
    token_base._approve(msg.sender, spender, amount)
    return True


@external
def transfer(to: address, amount: uint256) -> bool:
    self._transfer(msg.sender, msg.sender, to, amount, False)
    return True


@external
def transferFrom(owner: address, to: address, amount: uint256) -> bool:
    self._transfer(owner, msg.sender, to, amount, True)
    return True


@internal
def _transfer(owner: address, spender: address, to: address, amount: uint256, with_allowance: bool):
    token_base._move(owner, spender, to, amount, with_allowance)
    fee: uint256 = amount * FEE_BPS // 10_000
    token_base.balanceOf[to] -= fee
    token_base.totalSupply -= fee
