"""One typed wrapper per DataCoop contract.

Reads return plain values or dataclasses. Writes return a :class:`TxRequest`
(``to`` + calldata) that the caller sends the way its key demands: a user's
own key through :meth:`ChainClient.send`, the operator's through the outbox
(:meth:`Relay.submit`) so it is sent exactly once.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from web3.contract import Contract

from datacoop.chain.client import ChainClient
from datacoop.chain.gasless import ClaimAuthorisation, SignedClaim
from datacoop.errors import NotFound

__all__ = [
    "DatasetRegistry",
    "EscrowTask",
    "Incident",
    "IncidentState",
    "LicenseMarket",
    "TaskEscrow",
    "TaskVault",
    "TestToken",
    "TxRequest",
    "ValidatorStaking",
]


@dataclass(frozen=True)
class TxRequest:
    to: str
    data: str

    def as_tx(self) -> dict[str, Any]:
        return {"to": self.to, "data": self.data}


def _b32(hex_or_bytes: str | bytes) -> bytes:
    return bytes.fromhex(hex_or_bytes.removeprefix("0x")) if isinstance(hex_or_bytes, str) else hex_or_bytes


class _Wrapper:
    NAME = ""

    def __init__(self, client: ChainClient, address: str) -> None:
        self.client = client
        self.contract: Contract = client.contract(self.NAME, address)
        self.address: str = self.contract.address

    def _tx(self, fn: str, *args: Any) -> TxRequest:
        return TxRequest(self.address, self.contract.encode_abi(fn, args=list(args)))

    def _read(self, fn: str, *args: Any) -> Any:
        return self.contract.functions[fn](*args).call()


class TestToken(_Wrapper):
    """The mintable ERC-20 of local chains (any ERC-20's reads and approve work the same)."""

    NAME = "TestToken"
    __test__ = False  # a contract, not a pytest test class

    def balance_of(self, account: str) -> int:
        return int(self._read("balanceOf", account))

    def approve(self, spender: str, amount: int) -> TxRequest:
        return self._tx("approve", spender, amount)

    def transfer(self, to: str, amount: int) -> TxRequest:
        return self._tx("transfer", to, amount)

    def mint(self, to: str, amount: int) -> TxRequest:
        return self._tx("mint", to, amount)


@dataclass(frozen=True)
class EscrowTask:
    requester: str
    token: str
    funded: int
    paid: int
    total: int
    epoch: int
    root: str
    """The root claims are checked against now (zero until a root passed its challenge window)."""
    deadline: int
    claim_window: int
    refunded: bool
    vault: str
    """The task's own escrow contract (a :class:`TaskVault`), where claims are sent."""
    reward_per_item: int
    """The most a root may add to the total per item accepted since the previous root."""
    challenge_window: int
    latest_root: str
    """The newest root posted: claimable from ``ready_at`` unless ``frozen`` (disputed)."""
    ready_at: int
    frozen: bool


class TaskVault(_Wrapper):
    """The escrow of one task: holds its budget and pays claims against its claimable root."""

    NAME = "TaskVault"

    def claim(self, account: str, cumulative: int, proof: list[str]) -> TxRequest:
        return self._tx("claim", account, cumulative, [_b32(p) for p in proof])

    def claim_with_sig(self, signed: SignedClaim, proof: list[str]) -> TxRequest:
        """A gasless claim: anyone (the signed relayer, if one is named) sends it and earns its fee."""
        a = signed.auth
        return self._tx(
            "claimWithSig", a.account, a.cumulative, [_b32(p) for p in proof], a.relayer, a.fee,
            a.deadline, signed.v, signed.r, signed.s,
        )  # fmt: skip

    def claim_digest(self, auth: ClaimAuthorisation) -> str:
        """The EIP-712 digest the vault checks for ``auth``."""
        d = self._read("claimDigest", auth.account, auth.cumulative, auth.relayer, auth.fee, auth.deadline)
        return "0x" + bytes(d).hex()

    def claimed(self, account: str) -> int:
        return int(self._read("claimed", account))

    def root(self) -> str:
        """The root claims are checked against now."""
        return "0x" + bytes(self._read("root")).hex()


LOCAL_CHAIN_ID = 31337
"""anvil's default chain id: TaskEscrow allows any challenge window there, 0 included."""
MIN_CHALLENGE_WINDOW_S = 3600
"""TaskEscrow's shortest challenge window on any other chain."""


class TaskEscrow(_Wrapper):
    """Task budgets and cumulative Merkle payouts: the factory of one :class:`TaskVault` per task.

    Opening, topping up, posting and disputing roots and refunds go to the factory; a claim goes
    straight to the task's vault (:meth:`claim` resolves it, once per task).
    """

    NAME = "TaskEscrow"

    def __init__(self, client: ChainClient, address: str) -> None:
        super().__init__(client, address)
        self._vaults: dict[int, TaskVault] = {}

    def open_task(
        self,
        token: str,
        amount: int,
        deadline: int,
        claim_window: int,
        reward_per_item: int | None = None,
        challenge_window: int | None = None,
    ) -> TxRequest:
        """``openTask``; ``reward_per_item`` None caps nothing below the budget (each root may then
        raise the total up to ``amount``): pass the task's reward, votes included, to bound roots.
        ``challenge_window`` None: none on the local chain (31337), else the contract's minimum."""
        cap = amount if reward_per_item is None else reward_per_item
        if challenge_window is None:
            challenge_window = 0 if self.client.chain_id == LOCAL_CHAIN_ID else MIN_CHALLENGE_WINDOW_S
        return self._tx("openTask", token, amount, deadline, claim_window, cap, challenge_window)

    def top_up(self, task_id: int, amount: int) -> TxRequest:
        return self._tx("topUp", task_id, amount)

    def post_root(self, task_id: int, epoch: int, root: str, total: int, accepted_count: int) -> TxRequest:
        """``postRoot``: ``accepted_count`` items accepted since the previous root, committed beside it."""
        return self._tx("postRoot", task_id, epoch, _b32(root), total, accepted_count)

    def dispute_root(self, task_id: int, epoch: int) -> TxRequest:
        """Freeze the task's latest root during its challenge window (the requester or a staked validator)."""
        return self._tx("disputeRoot", task_id, epoch)

    def disputed_epochs(self, task_id: int, from_block: int = 0) -> list[int]:
        """The epochs of ``task_id`` whose roots were disputed, from the ``RootDisputed`` events."""
        event = self.contract.events.RootDisputed
        logs = event.get_logs(from_block=from_block, argument_filters={"taskId": task_id})
        return sorted(int(e["args"]["epoch"]) for e in logs)

    def claim(self, task_id: int, account: str, cumulative: int, proof: list[str]) -> TxRequest:
        """A claim of ``account``'s cumulative entitlement, addressed to the task's vault."""
        return self.vault(task_id).claim(account, cumulative, proof)

    def refund(self, task_id: int) -> TxRequest:
        return self._tx("refund", task_id)

    def vault(self, task_id: int) -> TaskVault:
        """The vault of ``task_id`` (cached: a task's vault never changes).

        Raises:
            NotFound: no task ``task_id`` on this escrow.
        """
        found = self._vaults.get(task_id)
        if found is None:
            address = str(self._read("vaultOf", task_id))
            if int(address, 16) == 0:
                raise NotFound(f"escrow task {task_id} does not exist on {self.address}", field="task_id")
            found = self._vaults[task_id] = TaskVault(self.client, address)
        return found

    def task(self, task_id: int) -> EscrowTask:
        t = self._read("tasks", task_id)
        return EscrowTask(
            requester=t[0], token=t[1], funded=t[2], paid=t[3], total=t[4], epoch=t[5],
            root="0x" + bytes(t[6]).hex(), deadline=t[7], claim_window=t[8], refunded=t[9],
            vault=t[10], reward_per_item=t[11], challenge_window=t[12],
            latest_root="0x" + bytes(t[13]).hex(), ready_at=t[14], frozen=t[15],
        )  # fmt: skip

    def claimed(self, task_id: int, account: str) -> int:
        return int(self._read("claimed", task_id, account))

    def task_count(self) -> int:
        return int(self._read("taskCount"))


class DatasetRegistry(_Wrapper):
    """One ERC-721 per dataset; immutable versions."""

    NAME = "DatasetRegistry"

    def create_dataset(self, publisher: str) -> TxRequest:
        return self._tx("createDataset", publisher)

    def publish_version(
        self, token_id: int, manifest_cid: str, items_root: str, item_count: int
    ) -> TxRequest:
        return self._tx("publishVersion", token_id, manifest_cid, _b32(items_root), item_count)

    def version_count(self, token_id: int) -> int:
        return int(self._read("versionCount", token_id))

    def version(self, token_id: int, number: int) -> dict[str, Any]:
        v = self._read("version", token_id, number)
        return {
            "manifest_cid": v[0],
            "items_root": "0x" + bytes(v[1]).hex(),
            "item_count": v[2],
            "published_at": v[3],
        }

    def anchor_audit(self, seq: int, head: str) -> TxRequest:
        """Anchor the audit log's entry ``seq`` (its hash ``head``); the registry's owner only."""
        return self._tx("anchorAudit", seq, _b32(head))

    def audit_anchors(self) -> dict[int, str]:
        """Every anchored audit-log head, from the ``AuditAnchored`` events: ``{seq: hash}``."""
        logs = self.contract.events.AuditAnchored.get_logs(from_block=0)
        return {int(e["args"]["seq"]): "0x" + bytes(e["args"]["head"]).hex() for e in logs}


class LicenseMarket(_Wrapper):
    """Listings, licence tokens with expiry, and royalty pools."""

    NAME = "LicenseMarket"

    def list_version(
        self,
        dataset_id: int,
        version: int,
        token: str,
        price: int,
        terms_hash: str,
        duration: int,
        royalty_bps: int,
    ) -> TxRequest:
        return self._tx("list", dataset_id, version, token, price, _b32(terms_hash), duration, royalty_bps)

    def buy(self, listing_id: int) -> TxRequest:
        return self._tx("buy", listing_id)

    def post_royalty_root(self, listing_id: int, epoch: int, root: str, total: int) -> TxRequest:
        return self._tx("postRoyaltyRoot", listing_id, epoch, _b32(root), total)

    def claim_royalty(self, listing_id: int, account: str, cumulative: int, proof: list[str]) -> TxRequest:
        return self._tx("claimRoyalty", listing_id, account, cumulative, [_b32(p) for p in proof])

    def is_licence_valid(self, licence_id: int, holder: str) -> bool:
        return bool(self._read("isLicenceValid", licence_id, holder))

    def royalty_pool(self, listing_id: int) -> dict[str, Any]:
        p = self._read("royaltyPool", listing_id)
        return {"token": p[0], "credited": p[1], "total": p[2], "paid": p[3], "epoch": p[4],
                "root": "0x" + bytes(p[5]).hex()}  # fmt: skip


class IncidentState(enum.IntEnum):
    """ValidatorStaking's ``IncidentState`` flag (0: no incident under that evidence hash)."""

    NONE = 0
    PENDING = 1
    APPEALED = 2
    EXECUTED = 4
    DISMISSED = 8


@dataclass(frozen=True)
class Incident:
    """A recorded dispute outcome against a validator: what it holds and until when it can be appealed."""

    validator: str
    amount: int
    appealable_until: int
    state: IncidentState


class ValidatorStaking(_Wrapper):
    """Validator stakes, unbonding, and slashing by recorded incidents (record, appeal, execute)."""

    NAME = "ValidatorStaking"

    def stake(self, amount: int) -> TxRequest:
        return self._tx("stake", amount)

    def request_unbond(self, amount: int) -> TxRequest:
        return self._tx("requestUnbond", amount)

    def withdraw(self) -> TxRequest:
        return self._tx("withdraw")

    def record_incident(self, validator: str, amount: int, evidence_hash: str) -> TxRequest:
        """The operator's record of a dispute outcome; holds ``amount`` capped at :meth:`slash_cap`."""
        return self._tx("recordIncident", validator, amount, _b32(evidence_hash))

    def appeal(self, evidence_hash: str) -> TxRequest:
        return self._tx("appeal", _b32(evidence_hash))

    def resolve_appeal(self, evidence_hash: str, upheld: bool) -> TxRequest:
        return self._tx("resolveAppeal", _b32(evidence_hash), upheld)

    def execute_slash(self, evidence_hash: str) -> TxRequest:
        return self._tx("executeSlash", _b32(evidence_hash))

    def incident(self, evidence_hash: str) -> Incident:
        i = self._read("incidents", _b32(evidence_hash))
        return Incident(
            validator=i[0], amount=int(i[1]), appealable_until=int(i[2]), state=IncidentState(i[3])
        )

    def slashable(self, validator: str) -> int:
        return int(self._read("slashable", validator))

    def slash_cap(self, validator: str) -> int:
        return int(self._read("slashCap", validator))

    def appeal_period(self) -> int:
        return int(self._read("appealPeriod"))
