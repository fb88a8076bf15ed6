# pragma version ~=0.4.3
"""
@title DataCoop task vault
@custom:contract-name TaskVault
@license AGPL-3.0-only
@notice The escrow of ONE data-collection task: it holds only that task's
        tokens and pays contributors against the task's cumulative Merkle
        root. `TaskEscrow` (the factory) deploys one per task from a
        blueprint of this contract, deposits the budget into it, posts its
        roots and triggers its refund; contributors claim here directly.

        - `claim(account, cumulativeAmount, proof)` pays `account` its
          cumulative entitlement minus what it was already paid, until the
          task's closing time (deadline + claim window, an immutable).
        - `setRoot` and `release` are for the factory only. The factory
          checks that a root's total only rises and never exceeds what was
          funded; `release` (after the closing time) sends the whole
          balance to the requester.

        Why no per-task cap on claims: the vault can pay at most its own
        balance, which is what the task was funded with minus what it has
        paid, so "per task, total paid <= funded" holds by construction,
        whatever a root says. After the closing time nothing can be
        claimed, so after the refund nothing more can be paid.

        Leaves and pairs follow OpenZeppelin's StandardMerkleTree:
        leaf = keccak256(keccak256(abi.encode(account, cumulativeAmount))),
        a parent hashes its two children smaller first. A leaf is the hash
        of 32 bytes and a parent the hash of 64, so an inner node cannot
        pass as a leaf (second-preimage attack).

        No reentrancy lock on `claim` (it would cost every claim gas): it
        writes what the account was paid before its only external call,
        the token transfer, so a re-entering token finds nothing more to
        claim; `setRoot` and `release` answer only the factory, which holds
        its own lock.
"""

from ethereum.ercs import IERC20

# @dev Deepest proof accepted: 2**32 leaves is far beyond any epoch.
MAX_PROOF_DEPTH: public(constant(uint256)) = 32

# @dev The ERC-20 this vault pays.
TOKEN: public(immutable(address))

# @dev The factory (TaskEscrow) that deployed this vault: the only caller of
# `setRoot` and `release`.
ESCROW: public(immutable(address))

# @dev The task's id in the factory.
TASK_ID: public(immutable(uint256))

# @dev Last second (inclusive) at which a claim is accepted: deadline + claim window.
CLOSES_AT: public(immutable(uint256))

# @dev The task's current root of cumulative entitlements (zero before the first epoch).
root: public(bytes32)

# @dev Cumulative amount already paid to an account.
claimed: public(HashMap[address, uint256])


event Claimed:
    account: indexed(address)
    amount: uint256
    cumulativeAmount: uint256


@deploy
def __init__(token: address, taskId: uint256, closesAt: uint256):
    """
    @dev Deployed by the factory (via `create_from_blueprint`), which is
         recorded as `ESCROW`.
    """
    assert token != empty(address)
    TOKEN = token
    ESCROW = msg.sender
    TASK_ID = taskId
    CLOSES_AT = closesAt


@external
def setRoot(newRoot: bytes32):
    """
    @dev Makes `newRoot` the root claims are checked against; factory only,
         which checks the epoch and the total. Not after the closing time.
    """
    # Bare asserts here and in `release`: TaskEscrow checks the same with
    # clear messages first, and every revert string adds to the code each
    # task's vault deploys (about 200 gas a byte).
    assert msg.sender == ESCROW
    assert block.timestamp <= CLOSES_AT
    assert newRoot != empty(bytes32)
    self.root = newRoot


@external
def claim(account: address, cumulativeAmount: uint256, proof: DynArray[bytes32, MAX_PROOF_DEPTH]):
    """
    @dev Pays `account` its cumulative entitlement `cumulativeAmount` minus
         what it was already paid, if `proof` shows the leaf
         `(account, cumulativeAmount)` under the current root. Anyone may
         submit; the tokens always go to `account`. Reverts when nothing is
         owed, the proof is wrong, claims are closed, or the vault holds
         less than is owed (the token's transfer fails).
    """
    assert block.timestamp <= CLOSES_AT, "TaskVault: claims closed"
    already: uint256 = self.claimed[account]
    assert cumulativeAmount > already, "TaskVault: nothing to claim"

    node: bytes32 = keccak256(keccak256(abi_encode(account, cumulativeAmount)))
    for sibling: bytes32 in proof:
        if convert(node, uint256) < convert(sibling, uint256):
            node = keccak256(abi_encode(node, sibling))
        else:
            node = keccak256(abi_encode(sibling, node))
    # Before the first root, `root` is zero: no keccak-256 output is known to be zero.
    assert node == self.root, "TaskVault: invalid proof"

    self.claimed[account] = cumulativeAmount
    amount: uint256 = unsafe_sub(cumulativeAmount, already)
    # `default_return_value` also checks `extcodesize` when nothing comes back.
    assert extcall IERC20(TOKEN).transfer(account, amount, default_return_value=True), "TaskVault: transfer failed"
    log Claimed(account=account, amount=amount, cumulativeAmount=cumulativeAmount)


@external
def release(to: address) -> uint256:
    """
    @dev Sends everything the vault holds to `to` and returns the amount;
         factory only (the requester's refund), after the closing time, so
         no claim can follow.
    """
    assert msg.sender == ESCROW
    assert block.timestamp > CLOSES_AT
    amount: uint256 = staticcall IERC20(TOKEN).balanceOf(self)
    if amount != 0:
        assert extcall IERC20(TOKEN).transfer(to, amount, default_return_value=True)
    return amount
