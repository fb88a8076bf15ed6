# pragma version ~=0.4.3
"""
@title Safe ERC-20 calls
@custom:contract-name safe_erc20
@license AGPL-3.0-only
@notice Token calls that never succeed silently. A token that returns
        nothing (USDT-style) counts as success only when it has code; a
        token that returns `False` or reverts makes the caller revert.
        `_pull` credits what actually arrived (balance after minus balance
        before), so a fee-on-transfer token can never over-credit.
        Stateless: import it, no `uses`/`initializes` needed.
"""

from ethereum.ercs import IERC20


@internal
def _transfer(token: address, to: address, amount: uint256):
    """
    @dev Sends `amount` of `token` from this contract to `to`.
    """
    # `default_return_value` also checks `extcodesize` when nothing comes back,
    # so a call to an address without code cannot pass.
    assert extcall IERC20(token).transfer(to, amount, default_return_value=True), "safe_erc20: transfer failed"


@internal
def _pull(token: address, owner: address, amount: uint256) -> uint256:
    """
    @dev Moves `amount` of `token` from `owner` to this contract with
         `transferFrom` and returns the amount that actually arrived.
    """
    before: uint256 = staticcall IERC20(token).balanceOf(self)
    assert extcall IERC20(token).transferFrom(
        owner, self, amount, default_return_value=True
    ), "safe_erc20: transferFrom failed"
    after: uint256 = staticcall IERC20(token).balanceOf(self)
    # A token whose balance shrinks on an incoming transfer is broken: revert
    # on the checked subtraction rather than credit anything.
    return after - before
