# pragma version ~=0.4.3
"""
@title DataCoop validator staking
@custom:contract-name ValidatorStaking
@license AGPL-3.0-only
@notice Validators stake one ERC-20, request unbonding, and withdraw once the
        unbonding delay has passed. Until then the unbonding amount stays
        slashable: leaving just before a known slash does not escape it.

        Slashing takes two steps and never happens without a recorded
        outcome. The operator (OPERATOR_ROLE) records an incident: a
        dispute outcome named by its `evidenceHash` (once per hash), against
        one validator, for at most `maxSlashBps` of what the validator has
        (staked + unbonding) and never more than is not yet held by other
        open incidents. That opens an appeal period of `appealPeriod`
        seconds in which the validator may appeal, which freezes the
        incident until an arbiter (ARBITER_ROLE, held by the admin: a
        timelock or multisig, not the operator) upholds or dismisses it.
        After the appeal period, an incident nobody appealed can be executed
        by anyone. A slash takes staked tokens first, then unbonding ones,
        and sends them to the treasury, fixed at deployment and never the
        operator. What open incidents hold (`reserved`) cannot be withdrawn.

        The unbonding delay is fixed at deployment, between
        MIN_UNBONDING_DELAY and MAX_UNBONDING_DELAY; a new unbonding request
        restarts it for everything unbonding.

        Conservation: totalStaked + totalUnbonding + totalSlashed
        + totalWithdrawn == totalDeposited, the token balance of this
        contract is totalStaked + totalUnbonding, and for every validator
        reserved <= staked + unbonding.
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

# @dev Role allowed to record incidents (the node's hot key).
OPERATOR_ROLE: public(constant(bytes32)) = keccak256("OPERATOR_ROLE")

# @dev Role allowed to rule on appealed incidents (the admin, never the operator).
ARBITER_ROLE: public(constant(bytes32)) = keccak256("ARBITER_ROLE")

BPS: public(constant(uint256)) = 10_000
MIN_UNBONDING_DELAY: public(constant(uint256)) = 86_400
MAX_UNBONDING_DELAY: public(constant(uint256)) = 365 * 86_400
MIN_APPEAL_PERIOD: public(constant(uint256)) = 86_400
MAX_APPEAL_PERIOD: public(constant(uint256)) = 30 * 86_400


struct Validator:
    staked: uint256
    unbonding: uint256
    unbondingReleaseAt: uint256
    slashed: uint256
    reserved: uint256


flag IncidentState:
    PENDING
    APPEALED
    EXECUTED
    DISMISSED


struct Incident:
    validator: address
    amount: uint256
    appealableUntil: uint256
    state: IncidentState


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


event IncidentRecorded:
    evidenceHash: indexed(bytes32)
    validator: indexed(address)
    amount: uint256
    appealableUntil: uint256


event IncidentAppealed:
    evidenceHash: indexed(bytes32)
    validator: indexed(address)


event AppealResolved:
    evidenceHash: indexed(bytes32)
    validator: indexed(address)
    upheld: bool


event Slashed:
    validator: indexed(address)
    reasonHash: indexed(bytes32)
    amount: uint256
    fromStake: uint256
    fromUnbonding: uint256


token: public(immutable(address))
treasury: public(immutable(address))
unbondingDelay: public(immutable(uint256))
appealPeriod: public(immutable(uint256))
maxSlashBps: public(immutable(uint256))

validators: public(HashMap[address, Validator])
incidents: public(HashMap[bytes32, Incident])
totalStaked: public(uint256)
totalUnbonding: public(uint256)
totalSlashed: public(uint256)
totalWithdrawn: public(uint256)
totalDeposited: public(uint256)


@deploy
def __init__(
    token_: address,
    treasury_: address,
    unbonding_delay: uint256,
    operator: address,
    admin: address,
    appeal_period: uint256,
    max_slash_bps: uint256,
):
    """
    @dev `admin` gets DEFAULT_ADMIN_ROLE and ARBITER_ROLE (the deployer
         keeps no role unless it is `admin`); `operator` records incidents.
    """
    access_control.__init__()
    assert token_ != empty(address), "ValidatorStaking: token is zero"
    assert treasury_ != empty(address), "ValidatorStaking: treasury is zero"
    assert operator != empty(address), "ValidatorStaking: operator is zero"
    assert admin != empty(address), "ValidatorStaking: admin is zero"
    # Slashed stake must not land where the key that records incidents can spend it.
    assert treasury_ != operator, "ValidatorStaking: treasury is the operator"
    assert unbonding_delay >= MIN_UNBONDING_DELAY, "ValidatorStaking: unbonding delay too short"
    assert unbonding_delay <= MAX_UNBONDING_DELAY, "ValidatorStaking: unbonding delay too long"
    assert appeal_period >= MIN_APPEAL_PERIOD, "ValidatorStaking: appeal period too short"
    assert appeal_period <= MAX_APPEAL_PERIOD, "ValidatorStaking: appeal period too long"
    assert max_slash_bps != 0, "ValidatorStaking: max slash is zero"
    assert max_slash_bps <= BPS, "ValidatorStaking: max slash above 100%"
    token = token_
    treasury = treasury_
    unbondingDelay = unbonding_delay
    appealPeriod = appeal_period
    maxSlashBps = max_slash_bps
    access_control._grant_role(OPERATOR_ROLE, operator)
    access_control._grant_role(ARBITER_ROLE, admin)
    if admin != msg.sender:
        access_control._grant_role(access_control.DEFAULT_ADMIN_ROLE, admin)
        access_control._revoke_role(access_control.DEFAULT_ADMIN_ROLE, msg.sender)


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
    @dev Pays the caller what is unbonding once the delay has passed, less
         what open incidents hold beyond the remaining stake (that part
         stays unbonding until they are executed or dismissed).
    """
    v: Validator = self.validators[msg.sender]
    assert v.unbonding != 0, "ValidatorStaking: nothing unbonding"
    assert block.timestamp >= v.unbondingReleaseAt, "ValidatorStaking: still unbonding"
    held: uint256 = 0
    if v.reserved > v.staked:
        held = v.reserved - v.staked
    amount: uint256 = v.unbonding - held
    assert amount != 0, "ValidatorStaking: unbonding held by open incidents"
    self.validators[msg.sender].unbonding = held
    if held == 0:
        self.validators[msg.sender].unbondingReleaseAt = 0
    self.totalUnbonding -= amount
    self.totalWithdrawn += amount
    log Withdrawn(validator=msg.sender, amount=amount)
    safe_erc20._transfer(token, msg.sender, amount)


@external
@nonreentrant
def recordIncident(validator: address, amount: uint256, evidenceHash: bytes32) -> uint256:
    """
    @dev Records the dispute outcome `evidenceHash` against `validator`;
         operator only, once per hash. Holds `amount` capped at
         `slashCap(validator)` and returns what was held; the slash can be
         executed `appealPeriod` seconds from now unless appealed.
    """
    access_control._check_role(OPERATOR_ROLE, msg.sender)
    assert amount != 0, "ValidatorStaking: amount is zero"
    assert evidenceHash != empty(bytes32), "ValidatorStaking: evidence is zero"
    assert self.incidents[evidenceHash].state == empty(IncidentState), "ValidatorStaking: incident already recorded"
    held: uint256 = min(amount, self._slash_cap(validator))
    assert held != 0, "ValidatorStaking: nothing to slash"
    appealable_until: uint256 = block.timestamp + appealPeriod
    self.incidents[evidenceHash] = Incident(
        validator=validator, amount=held, appealableUntil=appealable_until, state=IncidentState.PENDING
    )
    self.validators[validator].reserved += held
    log IncidentRecorded(
        evidenceHash=evidenceHash, validator=validator, amount=held, appealableUntil=appealable_until
    )
    return held


@external
@nonreentrant
def appeal(evidenceHash: bytes32):
    """
    @dev The incident's validator appeals it before its appeal period ends;
         it then waits for an arbiter's ruling.
    """
    incident: Incident = self.incidents[evidenceHash]
    assert incident.state == IncidentState.PENDING, "ValidatorStaking: incident not pending"
    assert msg.sender == incident.validator, "ValidatorStaking: not the incident's validator"
    assert block.timestamp < incident.appealableUntil, "ValidatorStaking: appeal period over"
    self.incidents[evidenceHash].state = IncidentState.APPEALED
    log IncidentAppealed(evidenceHash=evidenceHash, validator=msg.sender)


@external
@nonreentrant
def resolveAppeal(evidenceHash: bytes32, upheld: bool) -> uint256:
    """
    @dev An arbiter rules on an appealed incident: upheld slashes it now,
         otherwise it is dismissed and its hold released. Returns what was
         slashed.
    """
    access_control._check_role(ARBITER_ROLE, msg.sender)
    incident: Incident = self.incidents[evidenceHash]
    assert incident.state == IncidentState.APPEALED, "ValidatorStaking: incident not appealed"
    log AppealResolved(evidenceHash=evidenceHash, validator=incident.validator, upheld=upheld)
    if upheld:
        return self._slash(evidenceHash, incident)
    self.incidents[evidenceHash].state = IncidentState.DISMISSED
    self.validators[incident.validator].reserved -= incident.amount
    return 0


@external
@nonreentrant
def executeSlash(evidenceHash: bytes32) -> uint256:
    """
    @dev Slashes an incident nobody appealed once its appeal period is
         over; anyone may call. Returns what was slashed.
    """
    incident: Incident = self.incidents[evidenceHash]
    assert incident.state != empty(IncidentState), "ValidatorStaking: no such incident"
    assert incident.state == IncidentState.PENDING, "ValidatorStaking: incident not pending"
    assert block.timestamp >= incident.appealableUntil, "ValidatorStaking: appeal period not over"
    return self._slash(evidenceHash, incident)


@external
@view
def slashable(validator: address) -> uint256:
    """
    @dev What `validator` has within reach of slashing (staked + unbonding).
    """
    return self.validators[validator].staked + self.validators[validator].unbonding


@external
@view
def slashCap(validator: address) -> uint256:
    """
    @dev The most a new incident against `validator` can hold now.
    """
    return self._slash_cap(validator)


@internal
@view
def _slash_cap(validator: address) -> uint256:
    v: Validator = self.validators[validator]
    slashable: uint256 = v.staked + v.unbonding
    return min(slashable * maxSlashBps // BPS, slashable - v.reserved)


@internal
def _slash(evidenceHash: bytes32, incident: Incident) -> uint256:
    # reserved <= staked + unbonding always holds, so the whole amount is there to take.
    v: Validator = self.validators[incident.validator]
    from_stake: uint256 = min(incident.amount, v.staked)
    from_unbonding: uint256 = incident.amount - from_stake
    self.validators[incident.validator] = Validator(
        staked=v.staked - from_stake,
        unbonding=v.unbonding - from_unbonding,
        unbondingReleaseAt=v.unbondingReleaseAt,
        slashed=v.slashed + incident.amount,
        reserved=v.reserved - incident.amount,
    )
    self.incidents[evidenceHash].state = IncidentState.EXECUTED
    self.totalStaked -= from_stake
    self.totalUnbonding -= from_unbonding
    self.totalSlashed += incident.amount
    log Slashed(
        validator=incident.validator,
        reasonHash=evidenceHash,
        amount=incident.amount,
        fromStake=from_stake,
        fromUnbonding=from_unbonding,
    )
    safe_erc20._transfer(token, treasury, incident.amount)
    return incident.amount
