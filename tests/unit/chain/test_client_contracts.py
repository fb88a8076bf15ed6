"""ChainClient builds each web3 contract object once (the chain follower asked for them every tick)."""

from __future__ import annotations

from datacoop.chain.client import ChainClient

ADDRESS = "0x5fbdb2315678afecb367f032d93f642f64180aa3"


def test_a_contract_is_built_once_per_name_and_address() -> None:
    client = ChainClient("http://127.0.0.1:9")  # building a contract object sends nothing
    first = client.contract("TaskEscrow", ADDRESS)
    again = client.contract("TaskEscrow", ADDRESS.upper().replace("0X", "0x"))  # any spelling of it
    other = client.contract("TaskEscrow", "0xe7f1725e7734ce288f8367e1bb143e90bb3f0512")
    token = client.contract("TestToken", ADDRESS)
    assert again is first and other is not first and token is not first
    assert first.address == "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    assert "openTask" in {f.fn_name for f in first.all_functions()}
