"""Fixtures for the contract tests: titanoboa deployers, accounts, tokens and deployed contracts.

Contracts are compiled once per session from the same sources ``datacoop.chain.artifacts``
compiles (``contracts/src``; mocks from ``contracts/tests/mocks``). titanoboa's pytest
plugin snapshots the in-process chain around every fixture and test, so each test starts
from the state its fixtures built.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boa
import pytest
from tests.contracts.tree import Tree, build_tree

REPO = Path(__file__).resolve().parents[2]
SOURCES = REPO / "contracts" / "src"
MOCKS = REPO / "contracts" / "tests" / "mocks"

DAY = 86_400
UNIT = 10**18
TERMS = b"\x11" * 32
LOCAL_CHAIN_ID = 31337
NO_CAP = 2**64  # an accepted-item count that never limits a root (tests of the cap pass their own)
BIG_REWARD = 2**95  # a reward per item that, with NO_CAP, allows any total below the funding limit


@pytest.fixture(autouse=True)
def _forget_traced_storage_keys() -> None:
    """Start each test with titanoboa's storage-key trace empty.

    When a call reverts, titanoboa prints the contract's storage by decoding every key it saw
    written at that address. Snapshots reuse addresses across tests, so without this a key
    written by another contract type in an earlier test breaks that printout (AttributeError
    instead of the revert).
    """
    boa.env.sstore_trace.clear()


@pytest.fixture(scope="session")
def deployers() -> dict[str, Any]:
    """Every contract and mock, compiled once: name -> boa deployer."""
    found = {
        path.stem: path for path in [*SOURCES.glob("*.vy"), *MOCKS.glob("*.vy")] if path.stem[0].isupper()
    }
    return {name: boa.load_partial(str(path)) for name, path in sorted(found.items())}


@pytest.fixture(scope="session")
def admin() -> str:
    return boa.env.generate_address("admin")


@pytest.fixture(scope="session")
def operator() -> str:
    return boa.env.generate_address("operator")


@pytest.fixture(scope="session")
def requester() -> str:
    return boa.env.generate_address("requester")


@pytest.fixture(scope="session")
def stranger() -> str:
    return boa.env.generate_address("stranger")


@pytest.fixture(scope="session")
def contributors() -> list[str]:
    return [boa.env.generate_address(f"contributor{i}") for i in range(8)]


@pytest.fixture
def token(deployers: dict[str, Any], admin: str) -> Any:
    with boa.env.prank(admin):
        return deployers["TestToken"].deploy("DataCoop Test", "DCT", 18)


class Escrow:
    """The TaskEscrow factory under test, plus what tests need of the task vaults it creates.

    Every attribute is the deployed factory's (``escrow.openTask``, ``escrow.tasks``, ...);
    ``claim(task_id, ...)`` sends the claim where users send it, to the task's own vault,
    and ``vault(task_id)`` is that vault. ``openTask`` makes the new vault known to boa: a
    revert that passes through a contract boa does not know makes titanoboa 0.2.8 fail while
    building the error's stack trace (``'str' object has no attribute 'dev_reason'``), so
    which test had met that address before decided whether a test passed.
    """

    def __init__(self, factory: Any, vault_deployer: Any) -> None:
        self.factory = factory
        self._vault_deployer = vault_deployer
        self.openTask = _OpenTask(self)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.factory, name)

    def postRoot(
        self, task_id: int, epoch: int, root: bytes, total: int, accepted: int = NO_CAP, **kw: Any
    ) -> Any:
        """``postRoot`` with an accepted-item count that does not limit the root unless given."""
        return self.factory.postRoot(task_id, epoch, root, total, accepted, **kw)

    def vault(self, task_id: int) -> Any:
        address = self.factory.vaultOf(task_id)
        assert int(address, 16) != 0, f"no task {task_id}"
        return self.vault_at(address)

    def vault_at(self, address: str) -> Any:
        with _proxy_code():
            return self._vault_deployer.at(address)

    def claim(self, task_id: int, account: str, amount: int, proof: list[bytes], **kw: Any) -> Any:
        return self.vault(task_id).claim(account, amount, proof, **kw)

    def held(self, task_id: int, token: Any) -> int:
        """What the task's vault holds of ``token``."""
        return int(token.balanceOf(self.factory.vaultOf(task_id)))


@contextmanager
def _proxy_code() -> Iterator[None]:
    """Quiet titanoboa's warning that a vault's code is not TaskVault's: it is a minimal proxy to it."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "casted bytecode does not match compiled bytecode")
        yield


class _OpenTask:
    """``factory.openTask`` that also makes the task's vault known to boa (see :class:`Escrow`)."""

    def __init__(self, escrow: Escrow) -> None:
        self._escrow = escrow

    def __call__(self, *args: Any, **kw: Any) -> Any:
        """``openTask(token, amount, deadline, claimWindow[, rewardPerItem[, challengeWindow]])``: a reward
        per item of :data:`BIG_REWARD` (no limit with :data:`NO_CAP`), no challenge window, unless given."""
        args = (*args, BIG_REWARD, 0) if len(args) == 4 else (*args, 0) if len(args) == 5 else args
        with _proxy_code():
            task_id = self._escrow.factory.openTask(*args, **kw)
        # From the call's own event: calling the factory again would replace the logs tests read.
        for log in self._escrow.factory.get_logs():
            if type(log).__name__ == "TaskOpened":
                self._escrow.vault_at(log.vault)
        return task_id

    def prepare_calldata(self, *args: Any, **kw: Any) -> Any:
        args = (*args, BIG_REWARD, 0) if len(args) == 4 else args
        return self._escrow.factory.openTask.prepare_calldata(*args, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._escrow.factory.openTask, name)


def deploy_staking(deployer: Any, token: Any, operator: str, admin: str) -> Any:
    """A ValidatorStaking (treasury: admin, delays of a day), whichever constructor it has now."""
    inputs = len(deployer.compiler_data.global_ctx.init_function.decl_node.args.args)
    args: list[Any] = [token.address, admin, DAY, operator]
    return deployer.deploy(*(args if inputs == 4 else [*args, admin, DAY, 1000]))


@pytest.fixture
def staking(deployers: dict[str, Any], token: Any, admin: str, operator: str) -> Any:
    """The ValidatorStaking the escrow reads a disputing validator's stake from."""
    with boa.env.prank(admin):
        return deploy_staking(deployers["ValidatorStaking"], token, operator, admin)


@pytest.fixture
def local_chain() -> Iterator[None]:
    """Run the test on the local chain id (31337), where a task's challenge window may be 0:
    each root is claimable as soon as it is posted (tests of the window set their own)."""
    before = boa.env.evm.patch.chain_id
    boa.env.evm.patch.chain_id = LOCAL_CHAIN_ID
    yield
    boa.env.evm.patch.chain_id = before


@pytest.fixture
def escrow(deployers: dict[str, Any], admin: str, operator: str, staking: Any, local_chain: None) -> Escrow:
    with boa.env.prank(admin):
        blueprint = deployers["TaskVault"].deploy_as_blueprint()
        factory = deployers["TaskEscrow"].deploy(operator, blueprint.address, staking.address)
    return Escrow(factory, deployers["TaskVault"])


@pytest.fixture
def funded_requester(token: Any, escrow: Any, requester: str) -> str:
    """The requester holding 1,000,000 tokens, all approved to the escrow."""
    token.mint(requester, 1_000_000 * UNIT)
    token.approve(escrow.address, 2**256 - 1, sender=requester)
    return requester


OpenTask = Callable[..., int]


@pytest.fixture
def open_task(escrow: Any, token: Any, funded_requester: str) -> OpenTask:
    """Open a task of `amount` tokens (deadline in 10 days, claim window 2 days); returns its id."""

    def open_(
        amount: int = 1000 * UNIT, deadline_in: int = 10 * DAY, window: int = 2 * DAY, tok: Any = None
    ) -> int:
        deadline = boa.env.timestamp + deadline_in
        return int(escrow.openTask((tok or token).address, amount, deadline, window, sender=funded_requester))

    return open_


PostTree = Callable[..., Tree]


@pytest.fixture
def post_tree(escrow: Any, operator: str) -> PostTree:
    """Build the tree of `values` and post it as the task's next epoch; returns the tree."""

    def post(task_id: int, values: list[tuple[str, int]], total: int | None = None) -> Tree:
        tree = build_tree(values)
        epoch = escrow.tasks(task_id).epoch + 1
        amount = sum(v for _, v in values) if total is None else total
        escrow.postRoot(task_id, epoch, tree.root, amount, sender=operator)
        return tree

    return post


@pytest.fixture
def registry(deployers: dict[str, Any], admin: str) -> Any:
    with boa.env.prank(admin):
        return deployers["DatasetRegistry"].deploy()


@pytest.fixture
def market(deployers: dict[str, Any], registry: Any, admin: str, operator: str) -> Any:
    fee_recipient = boa.env.generate_address("fee-recipient")
    with boa.env.prank(admin):
        return deployers["LicenseMarket"].deploy(registry.address, operator, fee_recipient, 500)


@pytest.fixture
def publisher() -> str:
    return boa.env.generate_address("publisher")


@pytest.fixture
def dataset(registry: Any, publisher: str) -> int:
    """A dataset owned by `publisher` with one version."""
    token_id = int(registry.createDataset(publisher, sender=publisher))
    registry.publishVersion(token_id, "bafy" + "a" * 55, b"\x22" * 32, 100, sender=publisher)
    return token_id


@pytest.fixture
def buyer(token: Any, market: Any) -> str:
    account = boa.env.generate_address("buyer")
    token.mint(account, 1_000_000 * UNIT)
    token.approve(market.address, 2**256 - 1, sender=account)
    return account
