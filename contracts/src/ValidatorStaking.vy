# pragma version ~=0.4.3
"""
@title DataCoop validator staking
@custom:contract-name ValidatorStaking
@license AGPL-3.0-only
@notice Validators stake one ERC-20, request unbonding, and withdraw once the
        unbonding delay has passed. Until then the unbonding amount stays
        slashable: leaving just before a known slash does not escape it. The
        operator (OPERATOR_ROLE) slashes on a recorded dispute outcome named
        by `reasonHash`; a slash takes staked tokens first, then unbonding
        ones, and never more than the validator still has. Slashed tokens go
        to the treasury.

        The unbonding delay is fixed at deployment and at least
        MIN_UNBONDING_DELAY. A new unbonding request restarts the delay for
        everything unbonding.

        Conservation: totalStaked + totalUnbonding + totalSlashed
        + totalWithdrawn == totalDeposited, and the token balance of this
        contract is totalStaked + totalUnbonding.
"""

from snekmate.auth import access_control
from .modules import safe_erc20

initializes: access_control

exports: (
    access_control.hasRole,
    access_control.getRoleAdmin,
    access_control.grantRole,
    access_control.revokeRole,
    access_control.renounceRole,
    access_control.supportsInterface,
    access_control.DEFAULT_ADMIN_ROLE,
)

# @dev Role allowed to slash.
OPERATOR_ROLE: public(constant(bytes32)) = keccak256("OPERATOR_ROLE")

# @dev Shortest unbonding delay a deployment may choose (one day).
MIN_UNBONDING_DELAY: public(constant(uint256)) = 86_400

# @dev Longest unbonding delay a deployment may choose (one year).
MAX_UNBONDING_DELAY: public(constant(uint256)) = 365 * 86_400


struct Validator:
    staked: uint256
    unbonding: uint256
    unbondingReleaseAt: uint256
    slashed: uint256


event Staked:
    validator: indexed(address)
    amount: uint256
    staked: uint256


event UnbondRequested:
    validator: indexed(address)
    amount: uint256
    unbonding: uint256
    releaseAt: uint256


event Withdrawn:
    validator: indexed(address)
    amount: uint256


event Slashed:
    validator: indexed(address)
    reasonHash: indexed(bytes32)
    amount: uint256
    fromStake: uint256
    fromUnbonding: uint256


token: public(immutable(address))
treasury: public(immutable(address))
unbondingDelay: public(immutable(uint256))

validators: public(HashMap[address, Validator])
totalStaked: public(uint256)
totalUnbonding: public(uint256)
totalSlashed: public(uint256)
totalWithdrawn: public(uint256)
totalDeposited: public(uint256)


@deploy
def __init__(token_: address, treasury_: address, unbonding_delay: uint256, operator: address):
    """
    @dev The deployer becomes admin; `operator` may slash.
    """
    access_control.__init__()
    assert token_ != empty(address), "ValidatorStaking: token is zero"
    assert treasury_ != empty(address), "ValidatorStaking: treasury is zero"
    assert operator != empty(address), "ValidatorStaking: operator is zero"
    assert unbonding_delay >= MIN_UNBONDING_DELAY, "ValidatorStaking: unbonding delay too short"
    assert unbonding_delay <= MAX_UNBONDING_DELAY, "ValidatorStaking: unbonding delay too long"
    token = token_
    treasury = treasury_
    unbondingDelay = unbonding_delay
    access_control._grant_role(OPERATOR_ROLE, operator)


@external
@nonreentrant
def stake(amount: uint256):
    """
    @dev Stakes `amount` (approved beforehand); credits what actually arrived.
    """
    assert amount != 0, "ValidatorStaking: amount is zero"
    received: uint256 = safe_erc20._pull(token, msg.sender, amount)
    assert received != 0, "ValidatorStaking: nothing received"
    staked: uint256 = self.validators[msg.sender].staked + received
    self.validators[msg.sender].staked = staked
    self.totalStaked += received
    self.totalDeposited += received
    log Staked(validator=msg.sender, amount=received, staked=staked)


@external
@nonreentrant
def requestUnbond(amount: uint256):
    """
    @dev Moves `amount` of the caller's stake to unbonding; everything
         unbonding becomes withdrawable `unbondingDelay` seconds from now.
    """
    assert amount != 0, "ValidatorStaking: amount is zero"
    staked: uint256 = self.validators[msg.sender].staked
    assert amount <= staked, "ValidatorStaking: amount above stake"
    unbonding: uint256 = self.validators[msg.sender].unbonding + amount
    release_at: uint256 = block.timestamp + unbondingDelay
    self.validators[msg.sender].staked = staked - amount
    self.validators[msg.sender].unbonding = unbonding
    self.validators[msg.sender].unbondingReleaseAt = release_at
    self.totalStaked -= amount
    self.totalUnbonding += amount
    log UnbondRequested(validator=msg.sender, amount=amount, unbonding=unbonding, releaseAt=release_at)


@external
@nonreentrant
def withdraw():
    """
    @dev Pays the caller everything unbonding, once the delay has passed.
    """
    amount: uint256 = self.validators[msg.sender].unbonding
    assert amount != 0, "ValidatorStaking: nothing unbonding"
    assert block.timestamp >= self.validators[msg.sender].unbondingReleaseAt, "ValidatorStaking: still unbonding"
    self.validators[msg.sender].unbonding = 0
    self.validators[msg.sender].unbondingReleaseAt = 0
    self.totalUnbonding -= amount
    self.totalWithdrawn += amount
    log Withdrawn(validator=msg.sender, amount=amount)
    safe_erc20._transfer(token, msg.sender, amount)


@external
@nonreentrant
def slash(validator: address, amount: uint256, reasonHash: bytes32) -> uint256:
    """
    @dev Slashes up to `amount` from `validator` (stake first, then
         unbonding) for the dispute outcome `reasonHash`; operator only.
         Returns what was slashed: `amount` capped at the slashable stake.
    """
    access_control._check_role(OPERATOR_ROLE, msg.sender)
    assert amount != 0, "ValidatorStaking: amount is zero"
    assert reasonHash != empty(bytes32), "ValidatorStaking: reason is zero"
    staked: uint256 = self.validators[validator].staked
    unbonding: uint256 = self.validators[validator].unbonding
    assert staked + unbonding != 0, "ValidatorStaking: nothing to slash"

    from_stake: uint256 = min(amount, staked)
    from_unbonding: uint256 = min(amount - from_stake, unbonding)
    slashed: uint256 = from_stake + from_unbonding
    self.validators[validator].staked = staked - from_stake
    self.validators[validator].unbonding = unbonding - from_unbonding
    self.validators[validator].slashed += slashed
    self.totalStaked -= from_stake
    self.totalUnbonding -= from_unbonding
    self.totalSlashed += slashed
    log Slashed(
        validator=validator,
        reasonHash=reasonHash,
        amount=slashed,
        fromStake=from_stake,
        fromUnbonding=from_unbonding,
    )
    safe_erc20._transfer(token, treasury, slashed)
    return slashed


@external
@view
def slashable(validator: address) -> uint256:
    """
    @dev What a slash can still take from `validator` (staked + unbonding).
    """
    return self.validators[validator].staked + self.validators[validator].unbonding
