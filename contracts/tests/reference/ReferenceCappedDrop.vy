# pragma version ~=0.4.3
"""
@title Reference: one distribution per contract that cannot pay past its total
@custom:contract-name ReferenceCappedDrop
@license AGPL-3.0-only
@notice MEASUREMENT ONLY, never deployed by DataCoop. `ReferenceDrop` plus
        the guarantee TaskEscrow gives per task: a root whose leaves add up
        to more than its posted total cannot pay past that total. The
        cheapest form of it: the upper 160 bits of the root and the headroom
        (total - paid, 96 bits) share one word, so the cap costs one warm
        write (2,900 gas) and nothing else.
"""

from ethereum.ercs import IERC20

TOKEN: public(immutable(address))

_LOW_96: constant(uint256) = 2**96 - 1

# @dev Upper 160 bits of the root | headroom (96 bits).
hot: public(uint256)
claimed: public(HashMap[address, uint256])


event Claimed:
    account: address
    amount: uint256


@deploy
def __init__(token: address):
    TOKEN = token


@external
def setRoot(root: bytes32, headroom: uint256):
    # Measurement only: anyone may set the root and the headroom.
    assert headroom <= _LOW_96, "ReferenceCappedDrop: headroom above 2**96"
    self.hot = (convert(root, uint256) & ~_LOW_96) | headroom


@external
def claim(account: address, cumulativeAmount: uint256, proof: DynArray[bytes32, 32]):
    node: bytes32 = keccak256(keccak256(abi_encode(account, cumulativeAmount)))
    for sibling: bytes32 in proof:
        if convert(node, uint256) < convert(sibling, uint256):
            node = keccak256(abi_encode(node, sibling))
        else:
            node = keccak256(abi_encode(sibling, node))
    hot: uint256 = self.hot
    assert (convert(node, uint256) ^ hot) >> 96 == 0, "ReferenceCappedDrop: invalid proof"
    already: uint256 = self.claimed[account]
    assert cumulativeAmount > already, "ReferenceCappedDrop: nothing to claim"
    amount: uint256 = unsafe_sub(cumulativeAmount, already)
    assert amount <= hot & _LOW_96, "ReferenceCappedDrop: claim above total"
    self.hot = unsafe_sub(hot, amount)
    self.claimed[account] = cumulativeAmount
    assert extcall IERC20(TOKEN).transfer(account, amount, default_return_value=True)
    log Claimed(account=account, amount=amount)
