# pragma version ~=0.4.3
"""
@title Reference: one cumulative Merkle distribution per contract
@custom:contract-name ReferenceDrop
@license AGPL-3.0-only
@notice MEASUREMENT ONLY, never deployed by DataCoop. The shape of the
        contracts behind the issue's gas goals (1inch's cumulative Merkle
        drop, an OpenZeppelin `MerkleProof` distributor) written in the same
        Vyper as TaskEscrow: one root, the token an immutable, no lock, one
        unindexed event, and no cap but the contract's own balance. It
        shows how much of TaskEscrow's claim is Vyper and how much is the
        many-task escrow (`contracts/scripts/measure_gas.py`, `reference_*`).
"""

from ethereum.ercs import IERC20

TOKEN: public(immutable(address))

root: public(bytes32)
claimed: public(HashMap[address, uint256])


event Claimed:
    account: address
    amount: uint256


@deploy
def __init__(token: address):
    TOKEN = token


@external
def setRoot(root: bytes32):
    # Measurement only: anyone may set the root.
    self.root = root


@external
def claim(account: address, cumulativeAmount: uint256, proof: DynArray[bytes32, 32]):
    node: bytes32 = keccak256(keccak256(abi_encode(account, cumulativeAmount)))
    for sibling: bytes32 in proof:
        if convert(node, uint256) < convert(sibling, uint256):
            node = keccak256(abi_encode(node, sibling))
        else:
            node = keccak256(abi_encode(sibling, node))
    assert node == self.root, "ReferenceDrop: invalid proof"
    already: uint256 = self.claimed[account]
    assert cumulativeAmount > already, "ReferenceDrop: nothing to claim"
    self.claimed[account] = cumulativeAmount
    amount: uint256 = unsafe_sub(cumulativeAmount, already)
    assert extcall IERC20(TOKEN).transfer(account, amount, default_return_value=True)
    log Claimed(account=account, amount=amount)
