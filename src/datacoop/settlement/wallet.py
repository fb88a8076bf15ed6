"""What a requester's or a contributor's wallet does on the escrow: their own transactions, not the node's.

The node posts roots through its operator and the outbox (:mod:`datacoop.settlement.epochs`); a
requester funding a task and a contributor claiming sign with their own key, straight to the chain
at ``rpc_url`` (the node's relay or any JSON-RPC address). The command line and the demo call these,
so they never hold a web3 connection or a contract wrapper themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_account.signers.local import LocalAccount
from web3.logs import DISCARD

from datacoop.chain import tokens
from datacoop.chain.client import ChainClient
from datacoop.chain.contracts import TaskEscrow, TestToken
from datacoop.errors import Unprocessable

__all__ = [
    "Funded",
    "claim",
    "fund_task",
    "fund_task_with_permit",
    "supports_permit",
    "token_balance",
    "token_decimals",
]


@dataclass(frozen=True)
class Funded:
    """An escrow task opened on chain: its id there, and the ``openTask`` transaction."""

    escrow_task_id: int
    tx_hash: str


def token_decimals(rpc_url: str, token: str) -> int:
    """How many decimals the ERC-20 at ``token`` has (``12.5`` tokens → base units)."""
    chain = ChainClient(rpc_url)
    return int(chain.contract("TestToken", token).functions.decimals().call())


def token_balance(rpc_url: str, token: str, holder: str) -> int:
    """``holder``'s balance of the ERC-20 at ``token``, in base units."""
    return TestToken(ChainClient(rpc_url), token).balance_of(holder)


def fund_task(
    rpc_url: str,
    account: LocalAccount,
    *,
    token: str,
    escrow: str,
    amount: int,
    deadline: int,
    claim_window_s: int,
    reward_per_item: int | None = None,
) -> Funded:
    """Approve ``amount`` base units for the escrow and open a task holding them (two transactions).

    Args:
        deadline: when contributions end, in Unix seconds.
        claim_window_s: how long after the deadline claims stay open.
        reward_per_item: the most one accepted item (its votes included) may add to a root; None
            bounds roots by the budget only.

    Raises:
        Conflict: the token or the escrow refused (the contract's reason).
        Unavailable: the chain does not answer.
    """
    chain = ChainClient(rpc_url)
    erc20, factory = TestToken(chain, token), TaskEscrow(chain, escrow)
    chain.send(account, erc20.approve(factory.address, amount).as_tx())
    return _open(chain, account, factory, erc20.address, amount, deadline, claim_window_s, reward_per_item)


def supports_permit(rpc_url: str, token: str) -> bool:
    """Whether the ERC-20 at ``token`` takes EIP-2612 permits this wallet can sign."""
    try:
        tokens.read_permit_domain(ChainClient(rpc_url), token)
    except Unprocessable:
        return False
    return True


def fund_task_with_permit(
    rpc_url: str,
    account: LocalAccount,
    *,
    token: str,
    escrow: str,
    amount: int,
    deadline: int,
    claim_window_s: int,
    reward_per_item: int | None = None,
    relayer: LocalAccount | None = None,
) -> Funded:
    """Open a task holding ``amount`` with one EIP-2612 signature in place of ``approve``.

    ``account`` (the requester) signs a permit for the escrow; ``relayer`` (default: the requester)
    sends it, paying its gas; then the requester's ``openTask`` pulls the budget. The permit is good
    until the task's ``deadline``. Other arguments as :func:`fund_task`'s.

    Raises:
        Unprocessable: the token has no permit this wallet can sign (``token``).
        Conflict: the token or the escrow refused.
    """
    chain = ChainClient(rpc_url)
    factory = TaskEscrow(chain, escrow)
    domain = tokens.read_permit_domain(chain, token)
    nonce = tokens.permit_nonce(chain, token, account.address)
    typed = tokens.permit_typed_data(domain, account.address, factory.address, amount, nonce, deadline)
    chain.send(relayer or account, tokens.permit_call(typed, tokens.sign_permit(account, typed)).as_tx())
    return _open(chain, account, factory, domain.token, amount, deadline, claim_window_s, reward_per_item)


def _open(
    chain: ChainClient,
    account: LocalAccount,
    factory: TaskEscrow,
    token: str,
    amount: int,
    deadline: int,
    claim_window_s: int,
    reward_per_item: int | None,
) -> Funded:
    """``openTask`` from the requester (the allowance is in place); the escrow task's id."""
    opening = factory.open_task(token, amount, deadline, claim_window_s, reward_per_item=reward_per_item)
    receipt = chain.send(account, opening.as_tx())
    full = chain.w3.eth.get_transaction_receipt(receipt.tx_hash)  # type: ignore[arg-type]
    opened = factory.contract.events.TaskOpened().process_receipt(full, errors=DISCARD)
    return Funded(int(opened[0]["args"]["taskId"]), receipt.tx_hash)


def claim(
    rpc_url: str,
    account: LocalAccount,
    *,
    escrow: str,
    escrow_task_id: int,
    cumulative: int,
    proof: list[str],
) -> str:
    """Claim ``account``'s cumulative entitlement from the task's vault; the transaction hash.

    Raises:
        Conflict: the vault refused (already claimed, a stale root …).
        NotFound: no escrow task ``escrow_task_id``.
    """
    chain = ChainClient(rpc_url)
    req = TaskEscrow(chain, escrow).claim(escrow_task_id, account.address, cumulative, proof)
    return chain.send(account, req.as_tx()).tx_hash
