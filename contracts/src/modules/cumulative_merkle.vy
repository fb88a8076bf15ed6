# pragma version ~=0.4.3
"""
@title Cumulative Merkle pools
@custom:contract-name cumulative_merkle
@license AGPL-3.0-only
@notice Many pools, each paying one ERC-20. The including contract opens
        and funds a pool; an operator posts, epoch after epoch, a Merkle
        root over the cumulative entitlements `(account, cumulativeAmount)`
        with their total; an account claims `cumulativeAmount - claimed`
        with one proof, so a single claim pays any number of epochs.

        Leaves and pairs follow OpenZeppelin's StandardMerkleTree:
        leaf = keccak256(keccak256(abi.encode(account, cumulativeAmount))),
        a parent hashes its two children smaller first. A leaf is the hash
        of 32 bytes and a parent the hash of 64, so an inner node cannot
        pass as a leaf (second-preimage attack).

        Invariants per pool: paid <= total <= funded < 2**96; total never
        decreases; claimed(pool, account) never decreases.

        Gas layout: a claim touches two words of the pool and nothing else.
        `_hot_root` holds the upper 192 bits of the root and the closing
        time (64 bits); `_hot_pay` holds the token (160 bits) and the
        headroom `total - paid` (96 bits). A claim is checked against the
        upper 192 bits of the root: forging one needs a keccak-256 preimage
        of a given 192-bit prefix (about 2**192 hashes). The full root is
        kept beside them for readers. What an account was paid sits in a
        flat map keyed by `pool << 160 | account` (pool ids stay below
        2**96), one hash per access instead of two for a nested map.
"""

from . import safe_erc20

# @dev Deepest proof accepted: 2**32 leaves is far beyond any epoch.
MAX_PROOF_DEPTH: constant(uint256) = 32

# @dev Upper bound (exclusive) of a pool's funding, so the headroom fits 96 bits.
FUNDING_LIMIT: constant(uint256) = 2**96

# @dev Upper bound (exclusive) of a pool id, so `pool << 160 | account` is a unique key.
POOL_ID_LIMIT: constant(uint256) = 2**96

_LOW_64: constant(uint256) = 2**64 - 1
_LOW_160: constant(uint256) = 2**160 - 1


struct Pool:
    hot_root: uint256
    hot_pay: uint256
    root: bytes32
    total: uint256
    funded: uint256
    epoch: uint256


_pools: HashMap[uint256, Pool]

# @dev Cumulative amount already paid to an account from a pool, keyed by
# `pool_id << 160 | account`. A nested `HashMap[uint256, HashMap[address,
# uint256]]` costs a second keccak per access (~55 gas each; a claim makes two).
_claimed: HashMap[uint256, uint256]


@external
@view
def claimed(poolId: uint256, account: address) -> uint256:
    """
    @dev Cumulative amount already paid to `account` from pool `poolId`
         (the task id in TaskEscrow, the listing id in LicenseMarket).
    """
    return self._claimed_of(poolId, account)


@internal
def _open(pool_id: uint256, token: address, closes_at: uint256):
    """
    @dev Creates pool `pool_id` paying `token`, claimable until `closes_at`
         (inclusive). The pool must not exist yet.
    """
    assert token != empty(address), "cumulative_merkle: token is zero"
    assert pool_id < POOL_ID_LIMIT, "cumulative_merkle: pool id above 2**96"
    assert closes_at <= _LOW_64, "cumulative_merkle: closing time too far"
    assert self._pools[pool_id].hot_pay == 0, "cumulative_merkle: pool exists"
    self._pools[pool_id].hot_root = closes_at
    self._pools[pool_id].hot_pay = convert(token, uint256)


@internal
def _fund(pool_id: uint256, amount: uint256) -> uint256:
    """
    @dev Adds `amount` to what pool `pool_id` may pay; returns the new funded amount.
    """
    funded: uint256 = self._pools[pool_id].funded + amount
    assert funded < FUNDING_LIMIT, "cumulative_merkle: funding above 2**96"
    self._pools[pool_id].funded = funded
    return funded


@internal
def _post_root(pool_id: uint256, epoch: uint256, root: bytes32, total: uint256):
    """
    @dev Makes `root` (epoch `epoch`, the previous epoch plus one) the root of
         pool `pool_id`; its entitlements add up to `total`, which may not
         decrease nor exceed the funding.
    """
    hot_pay: uint256 = self._pools[pool_id].hot_pay
    previous: uint256 = self._pools[pool_id].total
    assert hot_pay != 0, "cumulative_merkle: unknown pool"
    assert epoch == self._pools[pool_id].epoch + 1, "cumulative_merkle: epoch out of order"
    assert root != empty(bytes32), "cumulative_merkle: root is zero"
    assert total >= previous, "cumulative_merkle: total decreased"
    assert total <= self._pools[pool_id].funded, "cumulative_merkle: total above funded"

    closes_at: uint256 = self._pools[pool_id].hot_root & _LOW_64
    self._pools[pool_id].hot_root = (convert(root, uint256) & ~_LOW_64) | closes_at
    # headroom + (total - previous) <= total < 2**96: stays inside its 96 bits.
    self._pools[pool_id].hot_pay = unsafe_add(hot_pay, unsafe_sub(total, previous) << 160)
    self._pools[pool_id].root = root
    self._pools[pool_id].total = total
    self._pools[pool_id].epoch = epoch


@internal
def _claim(
    pool_id: uint256, account: address, cumulative_amount: uint256, proof: DynArray[bytes32, MAX_PROOF_DEPTH]
) -> uint256:
    """
    @dev Pays `account` what `cumulative_amount` owes beyond what it was
         already paid from pool `pool_id`, if `proof` shows the leaf
         `(account, cumulative_amount)` under the pool's current root.
         Returns the amount paid. State is written before the token call.
    """
    hot_root: uint256 = self._pools[pool_id].hot_root
    # An unknown pool has closing time 0: always closed.
    assert block.timestamp <= hot_root & _LOW_64, "cumulative_merkle: pool closed"
    # The pool exists (it is open), so pool_id < POOL_ID_LIMIT and the key is unique.
    key: uint256 = (pool_id << 160) | convert(account, uint256)
    already: uint256 = self._claimed[key]
    assert cumulative_amount > already, "cumulative_merkle: nothing to claim"

    node: bytes32 = keccak256(keccak256(abi_encode(account, cumulative_amount)))
    for sibling: bytes32 in proof:
        if convert(node, uint256) < convert(sibling, uint256):
            node = keccak256(abi_encode(node, sibling))
        else:
            node = keccak256(abi_encode(sibling, node))
    # Same upper 192 bits as the posted root (a pool without a root has
    # headroom 0, so nothing passes the check below either).
    assert (convert(node, uint256) ^ hot_root) >> 64 == 0, "cumulative_merkle: invalid proof"

    amount: uint256 = unsafe_sub(cumulative_amount, already)
    hot_pay: uint256 = self._pools[pool_id].hot_pay
    assert amount <= hot_pay >> 160, "cumulative_merkle: claim above total"
    self._pools[pool_id].hot_pay = unsafe_sub(hot_pay, amount << 160)
    self._claimed[key] = cumulative_amount

    safe_erc20._transfer(convert(hot_pay & _LOW_160, address), account, amount)
    return amount


@internal
@view
def _claimed_of(pool_id: uint256, account: address) -> uint256:
    """
    @dev What `account` was already paid from pool `pool_id` (0 for an id no pool can have).
    """
    if pool_id >= POOL_ID_LIMIT:
        return 0
    return self._claimed[(pool_id << 160) | convert(account, uint256)]


@internal
@view
def _exists(pool_id: uint256) -> bool:
    return self._pools[pool_id].hot_pay != 0


@internal
@view
def _token(pool_id: uint256) -> address:
    return convert(self._pools[pool_id].hot_pay & _LOW_160, address)


@internal
@view
def _closes_at(pool_id: uint256) -> uint256:
    return self._pools[pool_id].hot_root & _LOW_64


@internal
@view
def _root(pool_id: uint256) -> bytes32:
    return self._pools[pool_id].root


@internal
@view
def _epoch(pool_id: uint256) -> uint256:
    return self._pools[pool_id].epoch


@internal
@view
def _funded(pool_id: uint256) -> uint256:
    return self._pools[pool_id].funded


@internal
@view
def _total(pool_id: uint256) -> uint256:
    return self._pools[pool_id].total


@internal
@view
def _paid(pool_id: uint256) -> uint256:
    return self._pools[pool_id].total - (self._pools[pool_id].hot_pay >> 160)
