"""The outbox signing through an external signer: anvil's own eth_signTransaction for its unlocked
dev accounts stands in for web3signer or Clef (same JSON-RPC methods, the key outside DataCoop)."""

from __future__ import annotations

from eth_account.signers.local import LocalAccount

from datacoop.chain.anvil import AnvilNode
from datacoop.chain.client import ChainClient
from datacoop.chain.keys import RpcSigner
from datacoop.chain.networks import FeePolicy, gwei
from datacoop.chain.outbox import Relay
from datacoop.db import Database

TYPED = {
    "types": {
        "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "chainId", "type": "uint256"}],
        "Claim": [{"name": "account", "type": "address"}, {"name": "root", "type": "bytes32"}],
    },
    "primaryType": "Claim",
    "domain": {"name": "DataCoop", "chainId": 31337},
    "message": {"account": "0x000000000000000000000000000000000000dEaD", "root": b"\x22" * 32},
}


def test_the_relay_sends_through_an_external_signer(
    db: Database, anvil: AnvilNode, chain: ChainClient, accounts: list[LocalAccount]
) -> None:
    # Prepare: the signer holds dev account 1 (anvil lists ten, so the address is named)
    signer = RpcSigner(anvil.url, accounts[1].address)
    fees = FeePolicy(priority_fee=gwei(2), max_fee_cap=gwei(50))
    relay = Relay(db, chain, signer, fees=fees)
    payee = accounts[2].address
    before = chain.w3.eth.get_balance(payee)
    # Execute
    row = relay.drive(relay.submit("pay:1", to=payee, data="0x", value=12345).key)
    # Assert: mined from the signer's address, priced by the policy
    tx = chain.w3.eth.get_transaction(row.tx_hash)  # type: ignore[arg-type]
    assert row.status == "confirmed"
    assert chain.w3.eth.get_balance(payee) - before == 12345
    assert tx["from"] == accounts[1].address and tx["maxPriorityFeePerGas"] == gwei(2)
    assert tx["maxFeePerGas"] <= gwei(50)
    relay.close()
    signer.close()


def test_typed_data_signed_by_the_external_signer_recovers_to_its_account(
    anvil: AnvilNode, accounts: list[LocalAccount]
) -> None:
    signer = RpcSigner(anvil.url, accounts[1].address)
    signed = signer.sign_typed_data(full_message=TYPED)  # RpcSigner checks the recovery itself
    assert signed.signature == bytes(accounts[1].sign_typed_data(full_message=TYPED).signature)
    signer.close()
