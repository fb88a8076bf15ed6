# pragma version ~=0.4.3
"""
@title DataCoop task escrow (factory of one vault per task)
@custom:contract-name TaskEscrow
@license AGPL-3.0-only
@notice Opens data-collection tasks, each with its own escrow contract (a
        `TaskVault`) that holds only that task's ERC-20 budget and pays
        contributors against cumulative Merkle roots.

        - A requester opens a task (ids 1, 2, ...) with a token, a budget,
          a deadline and a claim window. The factory deploys the task's
          vault from a blueprint (a full copy, not a proxy: a claim must not
          pay for a DELEGATECALL) and moves the budget from the requester
          (who approved this contract) straight into it; the budget
          credited is what the vault actually received (fee-on-transfer
          tokens cannot over-credit). The requester may top it up before
          the deadline.
        - The operator (OPERATOR_ROLE) posts, epoch after epoch, through
          this contract the root of the task's cumulative entitlements and
          their total, which never decreases and never exceeds the budget;
          the root is handed to the vault.
        - Anyone may claim for an account on the task's vault
          (`TaskVault.claim(account, cumulativeAmount, proof)`, the vault's
          address in `vaultOf(taskId)`, `tasks(taskId).vault` and the
          `TaskOpened` event) until deadline + claim window.
        - After deadline + claim window the requester takes back what the
          vault holds, once; the task is then closed for good.

        Invariant per task: paid <= funded (a vault pays from its own
        balance only) and total <= funded. Every state-changing function
        takes the contract-wide lock (`@nonreentrant`) and writes its state
        before calling out, except that a deposit must call the token
        first to learn what arrived.

        Why roots go through the factory rather than straight to the
        vault: one role registry for every task (granting or revoking the
        operator applies at once to all vaults), one contract whose
        `RootPosted` events an indexer follows, and the same
        `postRoot(taskId, ...)` call the node's outbox already sends.
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

# @dev Role allowed to post roots.
OPERATOR_ROLE: public(constant(bytes32)) = keccak256("OPERATOR_ROLE")

# @dev Shortest claim window a task may have, so a requester cannot refund
# right at the deadline before contributors could claim the last epoch.
MIN_CLAIM_WINDOW: public(constant(uint256)) = 86_400

# @dev Upper bound (exclusive) of deadline + claim window.
CLOSING_TIME_LIMIT: public(constant(uint256)) = 2**64

# @dev The TaskVault blueprint (EIP-5202) every task's vault is created from.
VAULT_BLUEPRINT: public(immutable(address))


# @dev The token and the closing time (deadline + claim window) are the vault's
# immutables (`TOKEN`, `CLOSES_AT`), read from it rather than stored twice:
# two storage words fewer per task opened (44,200 gas).
struct TaskInfo:
    vault: address
    requester: address
    deadline: uint256
    funded: uint256
    total: uint256
    epoch: uint256
    refunded: bool
    refundedAmount: uint256


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


event TaskOpened:
    taskId: indexed(uint256)
    requester: indexed(address)
    token: indexed(address)
    funded: uint256
    deadline: uint256
    claimWindow: uint256
    vault: address


event TaskToppedUp:
    taskId: indexed(uint256)
    amount: uint256
    funded: uint256


event RootPosted:
    taskId: indexed(uint256)
    epoch: indexed(uint256)
    root: bytes32
    total: uint256


event Refunded:
    taskId: indexed(uint256)
    requester: indexed(address)
    amount: uint256


# @dev Number of tasks opened; the last task id.
taskCount: public(uint256)

_info: HashMap[uint256, TaskInfo]


@deploy
def __init__(operator: address, vaultBlueprint: address):
    """
    @dev The deployer becomes admin; `operator` may post roots;
         `vaultBlueprint` holds TaskVault's init code as an EIP-5202 blueprint.
    """
    access_control.__init__()
    assert operator != empty(address), "TaskEscrow: operator is zero"
    assert vaultBlueprint.is_contract, "TaskEscrow: vault blueprint has no code"
    access_control._grant_role(OPERATOR_ROLE, operator)
    VAULT_BLUEPRINT = vaultBlueprint


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
def openTask(token: address, amount: uint256, deadline: uint256, claimWindow: uint256) -> uint256:
    """
    @dev Opens a task funded with `amount` of `token` pulled from the caller
         (who must have approved this contract), deploys its vault and
         returns the task's id.
    """
    assert token != empty(address), "TaskEscrow: token is zero"
    assert amount != 0, "TaskEscrow: amount is zero"
    assert deadline > block.timestamp, "TaskEscrow: deadline passed"
    assert claimWindow >= MIN_CLAIM_WINDOW, "TaskEscrow: claim window too short"
    assert deadline + claimWindow < CLOSING_TIME_LIMIT, "TaskEscrow: deadline too far"

    task_id: uint256 = self.taskCount + 1
    self.taskCount = task_id
    closes_at: uint256 = deadline + claimWindow
    vault: address = create_from_blueprint(VAULT_BLUEPRINT, token, task_id, closes_at)
    received: uint256 = self._deposit(token, msg.sender, vault, amount)
    # Field by field: the zero fields (total, epoch, refunded) need no write.
    self._info[task_id].vault = vault
    self._info[task_id].requester = msg.sender
    self._info[task_id].deadline = deadline
    self._info[task_id].funded = received
    log TaskOpened(
        taskId=task_id,
        requester=msg.sender,
        token=token,
        funded=received,
        deadline=deadline,
        claimWindow=claimWindow,
        vault=vault,
    )
    return task_id


@external
@nonreentrant
def topUp(taskId: uint256, amount: uint256):
    """
    @dev Adds `amount` to the budget of task `taskId`; requester only,
         before the deadline.
    """
    assert self._info[taskId].requester == msg.sender, "TaskEscrow: not the requester"
    assert block.timestamp < self._info[taskId].deadline, "TaskEscrow: deadline passed"
    assert amount != 0, "TaskEscrow: amount is zero"

    vault: address = self._info[taskId].vault
    received: uint256 = self._deposit(staticcall ITaskVault(vault).TOKEN(), msg.sender, vault, amount)
    funded: uint256 = self._info[taskId].funded + received
    self._info[taskId].funded = funded
    log TaskToppedUp(taskId=taskId, amount=received, funded=funded)


@external
@nonreentrant
def postRoot(taskId: uint256, epoch: uint256, root: bytes32, total: uint256):
    """
    @dev Posts the root of epoch `epoch` of task `taskId`; operator only.
         `total` (the sum of all cumulative entitlements in the tree) may
         not decrease and may not exceed the budget.
    """
    access_control._check_role(OPERATOR_ROLE, msg.sender)
    vault: address = self._info[taskId].vault
    assert vault != empty(address), "TaskEscrow: unknown task"
    assert not self._info[taskId].refunded, "TaskEscrow: task refunded"
    assert block.timestamp <= staticcall ITaskVault(vault).CLOSES_AT(), "TaskEscrow: claims closed"
    assert epoch == self._info[taskId].epoch + 1, "TaskEscrow: epoch out of order"
    assert root != empty(bytes32), "TaskEscrow: root is zero"
    assert total >= self._info[taskId].total, "TaskEscrow: total decreased"
    assert total <= self._info[taskId].funded, "TaskEscrow: total above funded"

    self._info[taskId].epoch = epoch
    self._info[taskId].total = total
    extcall ITaskVault(vault).setRoot(root)
    log RootPosted(taskId=taskId, epoch=epoch, root=root, total=total)


@external
@nonreentrant
def refund(taskId: uint256):
    """
    @dev Sends what the task's vault still holds to the requester after
         deadline + claim window, exactly once. The task is then terminal:
         its vault accepts no claim after its closing time.
    """
    assert self._info[taskId].requester == msg.sender, "TaskEscrow: not the requester"
    assert not self._info[taskId].refunded, "TaskEscrow: already refunded"
    vault: address = self._info[taskId].vault
    assert block.timestamp > staticcall ITaskVault(vault).CLOSES_AT(), "TaskEscrow: claim window open"

    self._info[taskId].refunded = True
    amount: uint256 = extcall ITaskVault(vault).release(msg.sender)
    self._info[taskId].refundedAmount = amount
    log Refunded(taskId=taskId, requester=msg.sender, amount=amount)


@external
@view
def vaultOf(taskId: uint256) -> address:
    """
    @dev The vault of task `taskId`, where its claims are sent (zero for an unknown id).
    """
    return self._info[taskId].vault


@external
@view
def tasks(taskId: uint256) -> Task:
    """
    @dev Everything about task `taskId`; all zero for an unknown id. `paid`
         is funded minus what the vault holds (before the refund) or
         returned (after it); tokens sent to a vault directly, outside
         `openTask`/`topUp`, count as unpaid budget.
    """
    info: TaskInfo = self._info[taskId]
    if info.vault == empty(address):
        return empty(Task)
    token: address = staticcall ITaskVault(info.vault).TOKEN()
    left: uint256 = info.refundedAmount
    if not info.refunded:
        left = staticcall IERC20(token).balanceOf(info.vault)
    return Task(
        requester=info.requester,
        token=token,
        funded=info.funded,
        paid=info.funded - min(left, info.funded),
        total=info.total,
        epoch=info.epoch,
        root=staticcall ITaskVault(info.vault).root(),
        deadline=info.deadline,
        claimWindow=staticcall ITaskVault(info.vault).CLOSES_AT() - info.deadline,
        refunded=info.refunded,
        vault=info.vault,
    )


@external
@view
def claimed(taskId: uint256, account: address) -> uint256:
    """
    @dev Cumulative amount already paid to `account` in task `taskId` (0 for an unknown id).
    """
    vault: address = self._info[taskId].vault
    if vault == empty(address):
        return 0
    return staticcall ITaskVault(vault).claimed(account)


@external
@view
def claimable(taskId: uint256, account: address, cumulativeAmount: uint256) -> uint256:
    """
    @dev What a claim of `cumulativeAmount` would pay `account` in task
         `taskId` now, assuming a valid proof (0 when nothing is owed or
         claims are closed).
    """
    vault: address = self._info[taskId].vault
    if vault == empty(address) or block.timestamp > staticcall ITaskVault(vault).CLOSES_AT():
        return 0
    already: uint256 = staticcall ITaskVault(vault).claimed(account)
    if cumulativeAmount <= already:
        return 0
    return cumulativeAmount - already
