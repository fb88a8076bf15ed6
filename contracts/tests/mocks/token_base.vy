# pragma version ~=0.4.3
"""
@title Bare ERC-20 bookkeeping for the test tokens (test only)
@license AGPL-3.0-only
@notice Balances, allowances and open minting; each mock decides what its
        `transfer` and `transferFrom` return and do on top of these.
"""

balanceOf: public(HashMap[address, uint256])
allowance: public(HashMap[address, HashMap[address, uint256]])
totalSupply: public(uint256)


@internal
def _mint(to: address, amount: uint256):
    self.balanceOf[to] += amount
    self.totalSupply += amount


@internal
def _approve(owner: address, spender: address, amount: uint256):
    self.allowance[owner][spender] = amount


@internal
def _can_move(owner: address, spender: address, amount: uint256, with_allowance: bool) -> bool:
    if self.balanceOf[owner] < amount:
        return False
    return not with_allowance or self.allowance[owner][spender] >= amount


@internal
def _move(owner: address, spender: address, to: address, amount: uint256, with_allowance: bool):
    """
    @dev Moves `amount` (reverts when the balance or allowance is short).
    """
    if with_allowance and self.allowance[owner][spender] != max_value(uint256):
        self.allowance[owner][spender] -= amount
    self.balanceOf[owner] -= amount
    self.balanceOf[to] += amount
