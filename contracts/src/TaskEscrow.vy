# pragma version ~=0.4.3
"""
@title DataCoop task escrow
@custom:contract-name TaskEscrow
@license AGPL-3.0-only
@notice Holds the ERC-20 budget of every data-collection task and pays
        contributors against cumulative Merkle roots.

        - A requester opens a task (ids 1, 2, ...) with a token, a budget,
          a deadline and a claim window; the budget credited is what the
          escrow actually received (fee-on-transfer tokens cannot
          over-credit). The requester may top it up before the deadline.
        - The operator (OPERATOR_ROLE) posts, epoch after epoch, the root
          of the cumulative entitlements and their total, which never
          decreases and never exceeds the budget.
        - Anyone may submit a claim for an account until deadline + claim
          window; the account receives its cumulative amount minus what it
          was already paid.
        - After deadline + claim window the requester takes back
          funded - paid, once; the task is then closed for good.

        Invariant per task: paid <= total <= funded.
        Every state-changing function takes the contract-wide lock
        (`@nonreentrant`, a transient-storage lock in Vyper 0.4) and writes
        its state before calling a token, except that a deposit must call
        the token first to learn what arrived.
"""

from snekmate.auth import access_control
from .modules import cumulative_merkle
from .modules import safe_erc20

initializes: access_control
initializes: cumulative_merkle

exports: (
    access_control.hasRole,
    access_control.getRoleAdmin,
    access_control.grantRole,
    access_control.revokeRole,
    access_control.renounceRole,
    access_control.supportsInterface,
    access_control.DEFAULT_ADMIN_ROLE,
    cumulative_merkle.claimed,
)

# @dev Role allowed to post roots.
OPERATOR_ROLE: public(constant(bytes32)) = keccak256("OPERATOR_ROLE")

# @dev Shortest claim window a task may have, so a requester cannot refund
# right at the deadline before contributors could claim the last epoch.
MIN_CLAIM_WINDOW: public(constant(uint256)) = 86_400


# @dev What the pool does not hold (the claim window is its closing time
# minus the deadline).
struct TaskInfo:
    requester: address
    deadline: uint256
    refunded: bool


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


event TaskOpened:
    taskId: indexed(uint256)
    requester: indexed(address)
    token: indexed(address)
    funded: uint256
    deadline: uint256
    claimWindow: uint256


event TaskToppedUp:
    taskId: indexed(uint256)
    amount: uint256
    funded: uint256


event RootPosted:
    taskId: indexed(uint256)
    epoch: indexed(uint256)
    root: bytes32
    total: uint256


event Claimed:
    taskId: indexed(uint256)
    account: indexed(address)
    amount: uint256
    cumulativeAmount: uint256


event Refunded:
    taskId: indexed(uint256)
    requester: indexed(address)
    amount: uint256


# @dev Number of tasks opened; the last task id.
taskCount: public(uint256)

_info: HashMap[uint256, TaskInfo]


@deploy
def __init__(operator: address):
    """
    @dev The deployer becomes admin; `operator` may post roots.
    """
    access_control.__init__()
    assert operator != empty(address), "TaskEscrow: operator is zero"
    access_control._grant_role(OPERATOR_ROLE, operator)


@external
@nonreentrant
def openTask(token: address, amount: uint256, deadline: uint256, claimWindow: uint256) -> uint256:
    """
    @dev Opens a task funded with `amount` of `token` pulled from the caller
         (who must have approved it) and returns its id.
    """
    assert token != empty(address), "TaskEscrow: token is zero"
    assert amount != 0, "TaskEscrow: amount is zero"
    assert deadline > block.timestamp, "TaskEscrow: deadline passed"
    assert claimWindow >= MIN_CLAIM_WINDOW, "TaskEscrow: claim window too short"
    assert deadline + claimWindow < 2**64, "TaskEscrow: deadline too far"

    task_id: uint256 = self.taskCount + 1
    self.taskCount = task_id
    self._info[task_id] = TaskInfo(requester=msg.sender, deadline=deadline, refunded=False)
    cumulative_merkle._open(task_id, token, deadline + claimWindow)

    received: uint256 = safe_erc20._pull(token, msg.sender, amount)
    assert received != 0, "TaskEscrow: nothing received"
    cumulative_merkle._fund(task_id, received)
    log TaskOpened(
        taskId=task_id,
        requester=msg.sender,
        token=token,
        funded=received,
        deadline=deadline,
        claimWindow=claimWindow,
    )
    return task_id


@external
@nonreentrant
def topUp(taskId: uint256, amount: uint256):
    """
    @dev Adds `amount` to the budget of task `taskId`; requester only,
         before the deadline.
    """
    info: TaskInfo = self._info[taskId]
    assert info.requester == msg.sender, "TaskEscrow: not the requester"
    assert block.timestamp < info.deadline, "TaskEscrow: deadline passed"
    assert amount != 0, "TaskEscrow: amount is zero"

    received: uint256 = safe_erc20._pull(cumulative_merkle._token(taskId), msg.sender, amount)
    assert received != 0, "TaskEscrow: nothing received"
    funded: uint256 = cumulative_merkle._fund(taskId, received)
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
    assert cumulative_merkle._exists(taskId), "TaskEscrow: unknown task"
    assert not self._info[taskId].refunded, "TaskEscrow: task refunded"
    assert block.timestamp <= cumulative_merkle._closes_at(taskId), "TaskEscrow: claims closed"
    cumulative_merkle._post_root(taskId, epoch, root, total)
    log RootPosted(taskId=taskId, epoch=epoch, root=root, total=total)


@external
@nonreentrant
def claim(taskId: uint256, account: address, cumulativeAmount: uint256, proof: DynArray[bytes32, cumulative_merkle.MAX_PROOF_DEPTH]):
    """
    @dev Pays `account` its cumulative entitlement `cumulativeAmount` in
         task `taskId` minus what it was already paid. Anyone may submit;
         the tokens always go to `account`. Reverts when nothing is owed,
         the proof is wrong, or the claim window is over.
    """
    amount: uint256 = cumulative_merkle._claim(taskId, account, cumulativeAmount, proof)
    log Claimed(taskId=taskId, account=account, amount=amount, cumulativeAmount=cumulativeAmount)


@external
@nonreentrant
def refund(taskId: uint256):
    """
    @dev Returns the unpaid budget (funded - paid) to the requester after
         deadline + claim window, exactly once. The task is then terminal.
    """
    info: TaskInfo = self._info[taskId]
    assert info.requester == msg.sender, "TaskEscrow: not the requester"
    assert not info.refunded, "TaskEscrow: already refunded"
    assert block.timestamp > cumulative_merkle._closes_at(taskId), "TaskEscrow: claim window open"

    self._info[taskId].refunded = True
    amount: uint256 = cumulative_merkle._funded(taskId) - cumulative_merkle._paid(taskId)
    log Refunded(taskId=taskId, requester=msg.sender, amount=amount)
    if amount != 0:
        safe_erc20._transfer(cumulative_merkle._token(taskId), msg.sender, amount)


@external
@view
def tasks(taskId: uint256) -> Task:
    """
    @dev Everything about task `taskId`; all zero for an unknown id.
    """
    info: TaskInfo = self._info[taskId]
    return Task(
        requester=info.requester,
        token=cumulative_merkle._token(taskId),
        funded=cumulative_merkle._funded(taskId),
        paid=cumulative_merkle._paid(taskId),
        total=cumulative_merkle._total(taskId),
        epoch=cumulative_merkle._epoch(taskId),
        root=cumulative_merkle._root(taskId),
        deadline=info.deadline,
        claimWindow=cumulative_merkle._closes_at(taskId) - info.deadline,
        refunded=info.refunded,
    )


@external
@view
def claimable(taskId: uint256, account: address, cumulativeAmount: uint256) -> uint256:
    """
    @dev What a claim of `cumulativeAmount` would pay `account` now, assuming
         a valid proof (0 when nothing is owed or claims are closed).
    """
    if block.timestamp > cumulative_merkle._closes_at(taskId):
        return 0
    already: uint256 = cumulative_merkle._claimed_of(taskId, account)
    if cumulativeAmount <= already:
        return 0
    return cumulativeAmount - already
