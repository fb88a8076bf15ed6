# pragma version ~=0.4.3
"""
@title ERC-20 that returns False instead of reverting (test only)
@license AGPL-3.0-only
@notice A short balance or allowance makes a transfer return False and move
        nothing. `setBroken(True)` makes every transfer do so.
"""
from . import token_base

initializes: token_base

exports: (token_base.balanceOf, token_base.allowance, token_base.totalSupply)

broken: public(bool)


@external
def mint(to: address, amount: uint256):
    token_base._mint(to, amount)


@external
def setBroken(broken: bool):
    self.broken = broken


@external
def approve(spender: address, amount: uint256) -> bool:
    token_base._approve(msg.sender, spender, amount)
    return True


@external
def transfer(to: address, amount: uint256) -> bool:
    return self._transfer(msg.sender, msg.sender, to, amount, False)


@external
def transferFrom(owner: address, to: address, amount: uint256) -> bool:
    return self._transfer(owner, msg.sender, to, amount, True)


@internal
def _transfer(owner: address, spender: address, to: address, amount: uint256, with_allowance: bool) -> bool:
    if self.broken or not token_base._can_move(owner, spender, amount, with_allowance):
        return False
    token_base._move(owner, spender, to, amount, with_allowance)
    return True
