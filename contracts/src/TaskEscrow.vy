# pragma version ~=0.4.3
"""
@title DataCoop task escrow (factory of one vault per task)
@custom:contract-name TaskEscrow
@license AGPL-3.0-only
@notice Opens data-collection tasks, each with its own escrow contract (a
        `TaskVault`) that holds only that task's ERC-20 budget and pays
        contributors against cumulative Merkle roots.

        - A requester opens a task (ids 1, 2, ...) with a token, a budget,
          a deadline, a claim window, a reward per accepted item and a
          challenge window. The factory creates the task's vault (an
          EIP-1167 minimal proxy to one TaskVault implementation, created
          from a blueprint in this constructor) and moves the budget from
          the requester (who approved this contract) straight into it; the
          budget credited is what the vault actually received. The
          requester may top it up before the deadline.
        - The operator (OPERATOR_ROLE) posts, epoch after epoch, the root of
          the task's cumulative entitlements, their total and the number of
          items accepted since the previous root. The total never decreases,
          never exceeds the budget, and rises by at most accepted items x
          reward per item. A root pays only after the task's challenge
          window; until then the requester or any validator with stake in
          ValidatorStaking may dispute it, which freezes it for good (and
          voids its raise of the total); the next root supersedes it.
        - Anyone may claim for an account on the task's vault, directly or
          with the account's EIP-712 signature (gasless, a capped fee to the
          relayer), until deadline + claim window.
        - After deadline + claim window the requester takes back what the
          vault holds, once; the task is then closed for good.

        Invariant per task: paid <= funded (a vault pays from its own
        balance only) and total <= funded. Every state-changing function
        takes the contract-wide lock (`@nonreentrant`) and writes its state
        before calling out, except that a deposit must call the token
        first to learn what arrived.
"""

from ethereum.ercs import IERC20
from snekmate.auth import access_control
from .interfaces import ITaskVault

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


interface IValidatorStaking:
    # The first word of ValidatorStaking's `validators(address)` struct is
    # `staked`; decoding only that word keeps working if fields are appended.
    def validators(account: address) -> uint256: view


# @dev Role allowed to post roots.
OPERATOR_ROLE: public(constant(bytes32)) = keccak256("OPERATOR_ROLE")

# @dev Shortest claim window a task may have, so a requester cannot refund
# right at the deadline before contributors could claim the last epoch.
MIN_CLAIM_WINDOW: public(constant(uint256)) = 86_400

# @dev Shortest challenge window on any chain but a local development one.
MIN_CHALLENGE_WINDOW: public(constant(uint256)) = 3_600

# @dev anvil's and hardhat's default chain id: any challenge window (even 0) is allowed there.
LOCAL_CHAIN_ID: public(constant(uint256)) = 31_337

# @dev Upper bound (exclusive) of deadline + claim window (40 bits in the vault's packed word).
CLOSING_TIME_LIMIT: public(constant(uint256)) = 2**40

# @dev Upper bound (exclusive) of a task's budget and of a reward per item.
FUNDING_LIMIT: public(constant(uint256)) = 2**128
REWARD_LIMIT: public(constant(uint256)) = 2**96

# @dev The implementation every task's vault is a minimal proxy to.
VAULT_IMPLEMENTATION: public(immutable(address))

# @dev Where a validator's stake is read (a dispute needs stake).
STAKING: public(immutable(address))

MASK_40: constant(uint256) = 2**40 - 1
MASK_128: constant(uint256) = 2**128 - 1
MASK_160: constant(uint256) = 2**160 - 1


# @dev What `tasks(id)` returns: everything an indexer or the node needs.
struct Task:
    requester: address
    token: address
    funded: uint256
    paid: uint256
    total: uint256
    epoch: uint256
    root: bytes32
    deadline: uint256
    claimWindow: uint256
    refunded: bool
    vault: address
    rewardPerItem: uint256
    challengeWindow: uint256
    latestRoot: bytes32
    readyAt: uint256
    frozen: bool


event TaskOpened:
    taskId: indexed(uint256)
    requester: indexed(address)
    token: indexed(address)
    funded: uint256
    deadline: uint256
    claimWindow: uint256
    vault: address
    rewardPerItem: uint256
    challengeWindow: uint256


event TaskToppedUp:
    taskId: indexed(uint256)
    amount: uint256
    funded: uint256


event RootPosted:
    taskId: indexed(uint256)
    epoch: indexed(uint256)
    root: bytes32
    total: uint256
    acceptedCount: uint256
    readyAt: uint256


event RootDisputed:
    taskId: indexed(uint256)
    epoch: indexed(uint256)
    disputer: indexed(address)
    root: bytes32


event Refunded:
    taskId: indexed(uint256)
    requester: indexed(address)
    amount: uint256


# @dev Number of tasks opened; the last task id.
taskCount: public(uint256)

# Per task, packed so that opening one writes three words (22,100 gas each):
# vault | deadline << 160 | challengeWindow << 200 | refunded << 240
_where: HashMap[uint256, uint256]
# requester | rewardPerItem << 160
_who: HashMap[uint256, uint256]
# funded | total << 128
_money: HashMap[uint256, uint256]
_epoch: HashMap[uint256, uint256]
# total before the latest root: a dispute of that root restores it
_baseTotal: HashMap[uint256, uint256]
_refundedAmount: HashMap[uint256, uint256]


@deploy
def __init__(operator: address, vaultBlueprint: address, staking: address):
    """
    @dev The deployer becomes admin; `operator` may post roots. The vault
         implementation is created here from `vaultBlueprint` (TaskVault's
         init code as an EIP-5202 blueprint), so its `ESCROW` is this contract.
    """
    access_control.__init__()
    assert operator != empty(address), "TaskEscrow: operator is zero"
    assert vaultBlueprint.is_contract, "TaskEscrow: vault blueprint has no code"
    assert staking.is_contract, "TaskEscrow: staking has no code"
    access_control._grant_role(OPERATOR_ROLE, operator)
    VAULT_IMPLEMENTATION = create_from_blueprint(vaultBlueprint)
    STAKING = staking


@internal
@view
def _vault(taskId: uint256) -> address:
    return convert(convert(self._where[taskId] & MASK_160, uint160), address)


@internal
@view
def _requester(taskId: uint256) -> address:
    return convert(convert(self._who[taskId] & MASK_160, uint160), address)


@internal
def _deposit(token: address, owner: address, vault: address, amount: uint256) -> uint256:
    """
    @dev Moves `amount` of `token` from `owner` into `vault` and returns what
         the vault actually received.
    """
    before: uint256 = staticcall IERC20(token).balanceOf(vault)
    assert extcall IERC20(token).transferFrom(
        owner, vault, amount, default_return_value=True
    ), "TaskEscrow: transferFrom failed"
    # A balance that shrinks on an incoming transfer reverts on the checked subtraction.
    received: uint256 = staticcall IERC20(token).balanceOf(vault) - before
    assert received != 0, "TaskEscrow: nothing received"
    return received


@external
@nonreentrant
def openTask(
    token: address,
    amount: uint256,
    deadline: uint256,
    claimWindow: uint256,
    rewardPerItem: uint256,
    challengeWindow: uint256,
) -> uint256:
    """
    @dev Opens a task funded with `amount` of `token` pulled from the caller
         (who must have approved this contract), creates its vault and
         returns the task's id. A root may raise the task's total by at most
         `rewardPerItem` per item accepted since the previous root, and pays
         only `challengeWindow` seconds after it is posted.
    """
    assert token != empty(address), "TaskEscrow: token is zero"
    assert amount != 0, "TaskEscrow: amount is zero"
    assert amount < FUNDING_LIMIT, "TaskEscrow: amount too large"
    assert deadline > block.timestamp, "TaskEscrow: deadline passed"
    assert claimWindow >= MIN_CLAIM_WINDOW, "TaskEscrow: claim window too short"
    assert deadline + claimWindow < CLOSING_TIME_LIMIT, "TaskEscrow: deadline too far"
    assert rewardPerItem != 0, "TaskEscrow: reward per item is zero"
    assert rewardPerItem < REWARD_LIMIT, "TaskEscrow: reward per item too large"
    assert challengeWindow >= MIN_CHALLENGE_WINDOW or chain.id == LOCAL_CHAIN_ID, "TaskEscrow: challenge window too short"
    assert challengeWindow < claimWindow, "TaskEscrow: challenge window not shorter than claim window"

    task_id: uint256 = self.taskCount + 1
    self.taskCount = task_id
    closes_at: uint256 = deadline + claimWindow
    vault: address = create_minimal_proxy_to(VAULT_IMPLEMENTATION)
    extcall ITaskVault(vault).initialise(token, task_id, closes_at)
    received: uint256 = self._deposit(token, msg.sender, vault, amount)
    self._where[task_id] = convert(vault, uint256) | (deadline << 160) | (challengeWindow << 200)
    self._who[task_id] = convert(msg.sender, uint256) | (rewardPerItem << 160)
    self._money[task_id] = received  # total 0
    log TaskOpened(
        taskId=task_id,
        requester=msg.sender,
        token=token,
        funded=received,
        deadline=deadline,
        claimWindow=claimWindow,
        vault=vault,
        rewardPerItem=rewardPerItem,
        challengeWindow=challengeWindow,
    )
    return task_id


@external
@nonreentrant
def topUp(taskId: uint256, amount: uint256):
    """
    @dev Adds `amount` to the budget of task `taskId`; requester only,
         before the deadline.
    """
    assert self._requester(taskId) == msg.sender, "TaskEscrow: not the requester"
    where: uint256 = self._where[taskId]
    assert block.timestamp < (where >> 160) & MASK_40, "TaskEscrow: deadline passed"
    assert amount != 0, "TaskEscrow: amount is zero"

    vault: address = self._vault(taskId)
    received: uint256 = self._deposit(staticcall ITaskVault(vault).TOKEN(), msg.sender, vault, amount)
    money: uint256 = self._money[taskId]
    funded: uint256 = (money & MASK_128) + received
    assert funded < FUNDING_LIMIT, "TaskEscrow: budget too large"
    self._money[taskId] = (money & ~MASK_128) | funded
    log TaskToppedUp(taskId=taskId, amount=received, funded=funded)


@external
@nonreentrant
def postRoot(taskId: uint256, epoch: uint256, root: bytes32, total: uint256, acceptedCount: uint256):
    """
    @dev Posts the root of epoch `epoch` of task `taskId`; operator only.
         `total` (the sum of all cumulative entitlements in the tree) may
         not decrease, may not exceed the budget, and may rise by at most
         `acceptedCount` (items accepted since the previous root, committed
         in `RootPosted`) times the task's reward per item. The root is
         claimable after the task's challenge window unless disputed.
    """
    access_control._check_role(OPERATOR_ROLE, msg.sender)
    where: uint256 = self._where[taskId]
    vault: address = convert(convert(where & MASK_160, uint160), address)
    assert vault != empty(address), "TaskEscrow: unknown task"
    assert where >> 240 == 0, "TaskEscrow: task refunded"
    ready_at: uint256 = block.timestamp + ((where >> 200) & MASK_40)
    assert ready_at <= staticcall ITaskVault(vault).CLOSES_AT(), "TaskEscrow: claims close before the challenge window ends"
    assert epoch == self._epoch[taskId] + 1, "TaskEscrow: epoch out of order"
    assert root != empty(bytes32), "TaskEscrow: root is zero"
    money: uint256 = self._money[taskId]
    base: uint256 = money >> 128
    assert total >= base, "TaskEscrow: total decreased"
    assert total <= money & MASK_128, "TaskEscrow: total above funded"
    reward: uint256 = self._who[taskId] >> 160
    # Rounded up: (total - base) <= acceptedCount * reward without overflow
    # (total < 2**128, reward < 2**96).
    assert (total - base + reward - 1) // reward <= acceptedCount, "TaskEscrow: total above accepted items x reward"

    self._epoch[taskId] = epoch
    self._baseTotal[taskId] = base
    self._money[taskId] = (money & MASK_128) | (total << 128)
    extcall ITaskVault(vault).setRoot(root, ready_at)
    log RootPosted(taskId=taskId, epoch=epoch, root=root, total=total, acceptedCount=acceptedCount, readyAt=ready_at)


@external
@nonreentrant
def disputeRoot(taskId: uint256, epoch: uint256):
    """
    @dev Freezes the task's latest root (epoch `epoch`) during its challenge
         window; the requester or any validator with stake. A frozen root
         never pays; the task's total goes back to what it was before it, and
         the operator's next root supersedes it.
    """
    vault: address = self._vault(taskId)
    assert vault != empty(address), "TaskEscrow: unknown task"
    assert epoch == self._epoch[taskId] and epoch != 0, "TaskEscrow: not the latest epoch"
    if msg.sender != self._requester(taskId):
        assert staticcall IValidatorStaking(STAKING).validators(msg.sender) != 0, "TaskEscrow: not the requester or a staked validator"
    assert not staticcall ITaskVault(vault).frozen(), "TaskEscrow: already disputed"
    assert block.timestamp < staticcall ITaskVault(vault).readyAt(), "TaskEscrow: challenge window over"

    money: uint256 = self._money[taskId]
    self._money[taskId] = (money & MASK_128) | (self._baseTotal[taskId] << 128)
    extcall ITaskVault(vault).freeze()
    log RootDisputed(taskId=taskId, epoch=epoch, disputer=msg.sender, root=staticcall ITaskVault(vault).latestRoot())


@external
@nonreentrant
def refund(taskId: uint256):
    """
    @dev Sends what the task's vault still holds to the requester after
         deadline + claim window, exactly once. The task is then terminal:
         its vault accepts no claim after its closing time.
    """
    assert self._requester(taskId) == msg.sender, "TaskEscrow: not the requester"
    where: uint256 = self._where[taskId]
    assert where >> 240 == 0, "TaskEscrow: already refunded"
    vault: address = convert(convert(where & MASK_160, uint160), address)
    assert block.timestamp > staticcall ITaskVault(vault).CLOSES_AT(), "TaskEscrow: claim window open"

    self._where[taskId] = where | (1 << 240)
    amount: uint256 = extcall ITaskVault(vault).release(msg.sender)
    self._refundedAmount[taskId] = amount
    log Refunded(taskId=taskId, requester=msg.sender, amount=amount)


@external
@view
def vaultOf(taskId: uint256) -> address:
    """
    @dev The vault of task `taskId`, where its claims are sent (zero for an unknown id).
    """
    return self._vault(taskId)


@external
@view
def tasks(taskId: uint256) -> Task:
    """
    @dev Everything about task `taskId`; all zero for an unknown id. `root`
         is the root claims use now, `latestRoot` the newest posted (claimable
         from `readyAt` unless `frozen`). `paid` is funded minus what the vault
         holds (before the refund) or returned (after it).
    """
    where: uint256 = self._where[taskId]
    vault: address = convert(convert(where & MASK_160, uint160), address)
    if vault == empty(address):
        return empty(Task)
    token: address = staticcall ITaskVault(vault).TOKEN()
    money: uint256 = self._money[taskId]
    funded: uint256 = money & MASK_128
    refunded: bool = where >> 240 != 0
    left: uint256 = self._refundedAmount[taskId]
    if not refunded:
        left = staticcall IERC20(token).balanceOf(vault)
    deadline: uint256 = (where >> 160) & MASK_40
    return Task(
        requester=self._requester(taskId),
        token=token,
        funded=funded,
        paid=funded - min(left, funded),
        total=money >> 128,
        epoch=self._epoch[taskId],
        root=staticcall ITaskVault(vault).root(),
        deadline=deadline,
        claimWindow=staticcall ITaskVault(vault).CLOSES_AT() - deadline,
        refunded=refunded,
        vault=vault,
        rewardPerItem=self._who[taskId] >> 160,
        challengeWindow=(where >> 200) & MASK_40,
        latestRoot=staticcall ITaskVault(vault).latestRoot(),
        readyAt=staticcall ITaskVault(vault).readyAt(),
        frozen=staticcall ITaskVault(vault).frozen(),
    )


@external
@view
def claimed(taskId: uint256, account: address) -> uint256:
    """
    @dev Cumulative amount already paid to `account` in task `taskId` (0 for an unknown id).
    """
    vault: address = self._vault(taskId)
    if vault == empty(address):
        return 0
    return staticcall ITaskVault(vault).claimed(account)


@external
@view
def claimable(taskId: uint256, account: address, cumulativeAmount: uint256) -> uint256:
    """
    @dev What a claim of `cumulativeAmount` would pay `account` in task
         `taskId` now, assuming a valid proof under the claimable root (0
         when nothing is owed or claims are closed).
    """
    vault: address = self._vault(taskId)
    if vault == empty(address) or block.timestamp > staticcall ITaskVault(vault).CLOSES_AT():
        return 0
    already: uint256 = staticcall ITaskVault(vault).claimed(account)
    if cumulativeAmount <= already:
        return 0
    return cumulativeAmount - already
