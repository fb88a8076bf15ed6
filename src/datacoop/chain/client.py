"""One client API over any EVM JSON-RPC endpoint: the embedded anvil or an L2 in production.

Reads go straight to the node. Writes by the operator go through the outbox
(:mod:`datacoop.chain.outbox`); writes by a user's own key (a claim from the
CLI) use :meth:`ChainClient.send` here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError, TimeExhausted, TransactionNotFound, Web3RPCError
from web3.types import TxReceipt

from datacoop.chain.artifacts import compile_contract
from datacoop.errors import Conflict, Unavailable

__all__ = ["ChainClient", "Receipt"]

POLL_S = 0.005  # web3's default 0.1 s poll caps a local chain at ~10 tx/s (NOTES-toolchain)


@dataclass(frozen=True)
class Receipt:
    tx_hash: str
    block_number: int
    block_hash: str
    gas_used: int
    status: int
    contract_address: str | None

    @classmethod
    def of(cls, r: TxReceipt) -> Receipt:
        return cls(
            tx_hash="0x" + bytes(r["transactionHash"]).hex(),
            block_number=r["blockNumber"],
            block_hash="0x" + bytes(r["blockHash"]).hex(),
            gas_used=r["gasUsed"],
            status=r["status"],
            contract_address=r.get("contractAddress"),
        )


class ChainClient:
    """A web3 connection to one chain, with DataCoop's contract ABIs at hand."""

    def __init__(self, rpc_url: str, *, timeout: float = 30.0) -> None:
        self.rpc_url = rpc_url
        self.w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
        self._chain_id: int | None = None
        self._contracts: dict[tuple[str, str], Contract] = {}  # built once: web3 builds one slowly

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = self._call(lambda: self.w3.eth.chain_id)
        return self._chain_id

    def _call(self, fn: Any) -> Any:
        try:
            return fn()
        except (ConnectionError, OSError) as exc:
            raise Unavailable(
                f"the chain node at {self.rpc_url} does not answer: {exc}", field="chain"
            ) from exc

    def block_number(self) -> int:
        n: int = self._call(lambda: self.w3.eth.block_number)
        return n

    def transfers_in(self, number: int) -> list[tuple[str, str | None, int]]:
        """(sender, recipient, wei) of each transaction in block ``number`` (recipient None: a deployment)."""
        block = self._call(lambda: self.w3.eth.get_block(number, full_transactions=True))
        return [
            (str(tx["from"]), str(tx["to"]) if tx.get("to") else None, int(tx["value"]))
            for tx in block["transactions"]
        ]

    def contract(self, name: str, address: str) -> Contract:
        """A web3 contract object for a deployed DataCoop contract (one per name and address: building
        one parses its ABI into classes, which the chain follower's every tick paid for each wrapper)."""
        key = (name, Web3.to_checksum_address(address))
        found = self._contracts.get(key)
        if found is None:
            found = self.w3.eth.contract(address=key[1], abi=compile_contract(name).abi)
            self._contracts[key] = found
        return found

    def code_at(self, address: str) -> bytes:
        return bytes(self._call(lambda: self.w3.eth.get_code(Web3.to_checksum_address(address))))

    def health(self, addresses: dict[str, str]) -> dict[str, Any]:
        return {"rpc_url": self.rpc_url, "chain_id": self.chain_id, "block": self.block_number(), **addresses}

    # --- a user's own transactions ----------------------------------------------------------

    def send(self, account: LocalAccount, tx: dict[str, Any], *, timeout: float = 120) -> Receipt:
        """Sign and send a transaction with a local key and wait for its receipt.

        Reverts are raised as Conflict carrying the contract's reason, before anything is sent.
        """
        tx = {"from": account.address, "chainId": self.chain_id, **tx}
        try:
            tx.setdefault("gas", int(self.w3.eth.estimate_gas(tx) * 1.2))  # type: ignore[arg-type]
        except ContractLogicError as exc:
            raise Conflict(f"the contract refused: {exc.message or exc}", field="transaction") from exc
        tx.setdefault("nonce", self.w3.eth.get_transaction_count(account.address, "pending"))
        self._set_fees(tx)
        signed = account.sign_transaction(tx)
        tx_hash = self._call(lambda: self.w3.eth.send_raw_transaction(signed.raw_transaction))
        return self.wait(tx_hash, timeout=timeout)

    def _set_fees(self, tx: dict[str, Any]) -> None:
        if "maxFeePerGas" in tx or "gasPrice" in tx:
            return
        base = self.w3.eth.get_block("latest").get("baseFeePerGas", 0)
        tip = self.w3.to_wei(1, "gwei")
        tx["maxPriorityFeePerGas"] = tip
        tx["maxFeePerGas"] = 2 * base + tip

    def wait(self, tx_hash: HexBytes | str, *, timeout: float = 120) -> Receipt:
        try:
            r = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout, poll_latency=POLL_S)  # type: ignore[arg-type]
        except TimeExhausted as exc:
            raise Unavailable(
                f"transaction {tx_hash!r} was not mined within {timeout}s", field="chain"
            ) from exc
        return Receipt.of(r)

    def receipt(self, tx_hash: str) -> Receipt | None:
        try:
            return Receipt.of(self.w3.eth.get_transaction_receipt(tx_hash))  # type: ignore[arg-type]
        except TransactionNotFound:
            return None

    def knows(self, tx_hash: str) -> bool:
        """Whether the node has the transaction (mined or in its mempool)."""
        try:
            self.w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
        except TransactionNotFound:
            return False
        return True

    def rpc(self, method: str, params: list[Any]) -> Any:
        """A raw JSON-RPC call (anvil's ``evm_mine``, ``anvil_dropTransaction`` …)."""
        try:
            return self.w3.provider.make_request(method, params)  # type: ignore[arg-type]
        except Web3RPCError as exc:
            raise Unavailable(f"{method} failed: {exc}", field="chain") from exc
