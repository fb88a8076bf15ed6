# pragma version ~=0.4.3
"""
@title DataCoop timelock
@custom:contract-name TimelockController
@license AGPL-3.0-only
@notice snekmate's timelock controller, deployed as DataCoop's admin. The
        production deployment makes it DEFAULT_ADMIN_ROLE of TaskEscrow,
        LicenseMarket and ValidatorStaking, and the deployer gives up its
        own admin role: a fee change, an operator rotation or an appeal
        ruling is then scheduled here by a proposer (a multisig), visible
        on chain (`CallScheduled`) for at least `get_minimum_delay`
        seconds, and only then executed by an executor.

        Proposers also get CANCELLER_ROLE. The timelock administers
        itself: changing its roles or its delay goes through the same
        delay. `admin_` (optional, the zero address for none) may set up
        roles without delay and should renounce afterwards.
"""

from snekmate.auth import access_control
from snekmate.governance import timelock_controller

initializes: access_control
initializes: timelock_controller[access_control := access_control]

exports: timelock_controller.__interface__


@deploy
@payable
def __init__(
    minimum_delay_: uint256,
    proposers_: DynArray[address, 255],
    executors_: DynArray[address, 255],
    admin_: address,
):
    """
    @dev `minimum_delay_` seconds between scheduling and execution;
         the deployer keeps no role (snekmate revokes its admin role).
    """
    access_control.__init__()
    timelock_controller.__init__(minimum_delay_, proposers_, executors_, admin_)
