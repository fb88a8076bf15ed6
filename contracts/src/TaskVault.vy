# pragma version ~=0.4.3
"""
@title DataCoop task vault
@custom:contract-name TaskVault
@license AGPL-3.0-only
@notice The escrow of ONE data-collection task: it holds only that task's
        tokens and pays contributors against the task's cumulative Merkle
        roots. `TaskEscrow` (the factory) creates one implementation of this
        contract in its constructor and, per task, an EIP-1167 minimal proxy
        to it (`create_minimal_proxy_to`), initialised once with the task's
        token, id and closing time; it deposits the budget into the proxy,
        posts its roots, freezes disputed ones and triggers its refund.

        - Each posted root becomes claimable only at its `readyAt` (posting
          time + the task's challenge window), unless it was disputed
          (frozen) before then: a frozen root never pays. Until a newer root
          is ready, claims use `settledRoot`, the last root that passed its
          window undisputed. Posting a root promotes the previous one to
          `settledRoot` if it is ready and not frozen; a frozen or unripe
          one is superseded (entitlements are cumulative: nothing is lost).
        - `claim(account, cumulativeAmount, proof)` pays `account` its
          cumulative entitlement minus what it was already paid, until the
          task's closing time (deadline + claim window).
        - `claimWithSig(...)`: the same, relayed by anyone, on the account's
          EIP-712 signature of (account, cumulativeAmount, relayer, fee,
          deadline); `fee` (at most MAX_RELAYER_FEE_BPS of what the claim
          pays) goes to the relayer, the rest to the account. A signature
          cannot be replayed: it names the cumulative amount, and once that
          is paid nothing more can be claimed with it; the domain names this
          vault and the chain.
        - `initialise`, `setRoot`, `freeze` and `release` answer only the
          factory (`ESCROW`, an immutable of the implementation).

        Why no per-task cap on claims: the vault can pay at most its own
        balance, the task's funding minus what it has paid, so "per task,
        total paid <= funded" holds by construction, whatever a root says.

        Leaves and pairs follow OpenZeppelin's StandardMerkleTree:
        leaf = keccak256(keccak256(abi.encode(account, cumulativeAmount))),
        a parent hashes its two children smaller first.

        No reentrancy lock on the claims: they write what the account was
        paid before calling the token, so a re-entering token finds nothing
        more to claim.
"""

from ethereum.ercs import IERC20

# @dev Deepest proof accepted: 2**32 leaves is far beyond any epoch.
MAX_PROOF_DEPTH: public(constant(uint256)) = 32

# @dev Most a relayer may take of a gasless claim, in basis points of what it pays.
MAX_RELAYER_FEE_BPS: public(constant(uint256)) = 1_000

CLAIM_TYPEHASH: constant(bytes32) = keccak256(
    "Claim(address account,uint256 cumulativeAmount,address relayer,uint256 fee,uint256 deadline)"
)
DOMAIN_TYPEHASH: constant(bytes32) = keccak256(
    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
NAME_HASH: constant(bytes32) = keccak256("DataCoop TaskVault")
VERSION_HASH: constant(bytes32) = keccak256("1")
# @dev Upper half of secp256k1's order excluded: one valid signature per message.
S_MAX: constant(uint256) = 57896044618658097711785492504343953926418782139537452191302581570759080747168

MASK_40: constant(uint256) = 2**40 - 1
MASK_160: constant(uint256) = 2**160 - 1

# @dev The factory (TaskEscrow) that created the implementation: the only
# caller of `initialise`, `setRoot`, `freeze` and `release`. An immutable
# lives in the implementation's code, so every proxy shares it.
ESCROW: public(immutable(address))

# @dev One word a claim reads whole (one cold SLOAD instead of four):
# token (bits 0-159) | closesAt (160-199) | readyAt of latestRoot (200-239) | frozen (240).
_state: uint256

# @dev The newest root posted (claimable from `readyAt` unless frozen).
latestRoot: public(bytes32)

# @dev The newest root that passed its challenge window undisputed, as of the last posting.
settledRoot: public(bytes32)

# @dev The task's id in the factory.
TASK_ID: public(uint256)

# @dev Cumulative amount already paid to an account.
claimed: public(HashMap[address, uint256])


event Claimed:
    account: indexed(address)
    amount: uint256
    cumulativeAmount: uint256


@deploy
def __init__():
    """
    @dev Deployed by the factory (from a blueprint, in its constructor), which is recorded as `ESCROW`.
    """
    ESCROW = msg.sender


@external
def initialise(token: address, taskId: uint256, closesAt: uint256):
    """
    @dev Sets the proxy's task once; factory only. `closesAt` < 2**40 (the factory checks).
    """
    # Bare asserts in the factory-only functions: TaskEscrow checks the same
    # first with messages; the implementation's size does not matter, but
    # these never fire for an honest factory.
    assert msg.sender == ESCROW
    assert self._state == 0
    assert token != empty(address)
    self._state = convert(token, uint256) | (closesAt << 160)
    self.TASK_ID = taskId


@internal
@view
def _root_of(state: uint256) -> bytes32:
    """
    @dev The root claims are checked against, given the packed state.
    """
    if state >> 240 == 0 and block.timestamp >= (state >> 200) & MASK_40:
        return self.latestRoot
    return self.settledRoot


@external
def setRoot(newRoot: bytes32, readyAt: uint256):
    """
    @dev Posts `newRoot`, claimable from `readyAt`; factory only. Promotes the
         previous root first if it is ready and not frozen.
    """
    assert msg.sender == ESCROW
    state: uint256 = self._state
    assert block.timestamp <= (state >> 160) & MASK_40
    assert readyAt < 2**40
    latest: bytes32 = self.latestRoot
    if latest != empty(bytes32) and state >> 240 == 0 and block.timestamp >= (state >> 200) & MASK_40:
        self.settledRoot = latest
    self.latestRoot = newRoot
    # keep token and closesAt, set readyAt, clear frozen
    self._state = (state & (2**200 - 1)) | (readyAt << 200)


@external
def freeze():
    """
    @dev Freezes the latest root for good (a dispute); factory only, before it is ready.
    """
    assert msg.sender == ESCROW
    state: uint256 = self._state
    assert self.latestRoot != empty(bytes32)
    assert state >> 240 == 0
    assert block.timestamp < (state >> 200) & MASK_40
    self._state = state | (1 << 240)


@internal
def _record(account: address, cumulativeAmount: uint256, proof: DynArray[bytes32, MAX_PROOF_DEPTH]) -> (address, uint256):
    """
    @dev Checks a claim against the claimable root, records it and returns
         (token, amount owed). Writes before any external call.
    """
    state: uint256 = self._state
    assert block.timestamp <= (state >> 160) & MASK_40, "TaskVault: claims closed"
    already: uint256 = self.claimed[account]
    assert cumulativeAmount > already, "TaskVault: nothing to claim"

    node: bytes32 = keccak256(keccak256(abi_encode(account, cumulativeAmount)))
    for sibling: bytes32 in proof:
        if convert(node, uint256) < convert(sibling, uint256):
            node = keccak256(abi_encode(node, sibling))
        else:
            node = keccak256(abi_encode(sibling, node))
    # No root yet reads as zero: no keccak-256 output is known to be zero.
    assert node == self._root_of(state), "TaskVault: invalid proof"

    self.claimed[account] = cumulativeAmount
    return convert(convert(state & MASK_160, uint160), address), unsafe_sub(cumulativeAmount, already)


@internal
def _pay(token: address, to: address, amount: uint256):
    # `default_return_value` also checks `extcodesize` when nothing comes back.
    assert extcall IERC20(token).transfer(to, amount, default_return_value=True), "TaskVault: transfer failed"


@external
def claim(account: address, cumulativeAmount: uint256, proof: DynArray[bytes32, MAX_PROOF_DEPTH]):
    """
    @dev Pays `account` its cumulative entitlement minus what it was already
         paid, if `proof` shows the leaf under the claimable root. Anyone may
         submit; the tokens always go to `account`.
    """
    token: address = empty(address)
    amount: uint256 = 0
    token, amount = self._record(account, cumulativeAmount, proof)
    self._pay(token, account, amount)
    log Claimed(account=account, amount=amount, cumulativeAmount=cumulativeAmount)


@external
@view
def claimDigest(account: address, cumulativeAmount: uint256, relayer: address, fee: uint256, deadline: uint256) -> bytes32:
    """
    @dev The EIP-712 digest `account` signs to authorise a gasless claim.
    """
    return self._digest(account, cumulativeAmount, relayer, fee, deadline)


@internal
@view
def _digest(account: address, cumulativeAmount: uint256, relayer: address, fee: uint256, deadline: uint256) -> bytes32:
    domain: bytes32 = keccak256(abi_encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, chain.id, self))
    struct_hash: bytes32 = keccak256(abi_encode(CLAIM_TYPEHASH, account, cumulativeAmount, relayer, fee, deadline))
    return keccak256(concat(x"1901", domain, struct_hash))


@external
def claimWithSig(
    account: address,
    cumulativeAmount: uint256,
    proof: DynArray[bytes32, MAX_PROOF_DEPTH],
    relayer: address,
    fee: uint256,
    deadline: uint256,
    v: uint8,
    r: bytes32,
    s: bytes32,
):
    """
    @dev A claim the account signed and anyone relays: `fee` to the caller,
         the rest to `account`. `relayer` zero lets anyone relay; otherwise
         only that address may. The fee is signed, so no relayer can change it.
    """
    assert block.timestamp <= deadline, "TaskVault: signature expired"
    assert relayer == empty(address) or relayer == msg.sender, "TaskVault: not the signed relayer"
    assert convert(s, uint256) <= S_MAX, "TaskVault: bad signature"
    signer: address = ecrecover(self._digest(account, cumulativeAmount, relayer, fee, deadline), v, r, s)
    assert signer == account and signer != empty(address), "TaskVault: bad signature"

    token: address = empty(address)
    amount: uint256 = 0
    token, amount = self._record(account, cumulativeAmount, proof)
    assert fee <= amount * MAX_RELAYER_FEE_BPS // 10_000, "TaskVault: fee above cap"
    self._pay(token, account, unsafe_sub(amount, fee))
    if fee != 0:
        self._pay(token, msg.sender, fee)
    log Claimed(account=account, amount=amount, cumulativeAmount=cumulativeAmount)


@external
def release(to: address) -> uint256:
    """
    @dev Sends everything the vault holds to `to` and returns the amount;
         factory only (the requester's refund), after the closing time.
    """
    assert msg.sender == ESCROW
    state: uint256 = self._state
    assert block.timestamp > (state >> 160) & MASK_40
    token: address = convert(convert(state & MASK_160, uint160), address)
    amount: uint256 = staticcall IERC20(token).balanceOf(self)
    if amount != 0:
        assert extcall IERC20(token).transfer(to, amount, default_return_value=True)
    return amount


@external
@view
def root() -> bytes32:
    """
    @dev The root claims are checked against now (zero before any root is claimable).
    """
    return self._root_of(self._state)


@external
@view
def TOKEN() -> address:
    return convert(convert(self._state & MASK_160, uint160), address)


@external
@view
def CLOSES_AT() -> uint256:
    return (self._state >> 160) & MASK_40


@external
@view
def readyAt() -> uint256:
    """
    @dev When `latestRoot` becomes claimable (unless frozen).
    """
    return (self._state >> 200) & MASK_40


@external
@view
def frozen() -> bool:
    """
    @dev Whether `latestRoot` was disputed: it never pays.
    """
    return self._state >> 240 != 0
