"""Operator signers: a scrypt keystore, and an external signer over JSON-RPC that is checked, not trusted.

The external signer here is a small JSON-RPC server in the test, signing with a real key the way
web3signer does; a dishonest mode signs with another key or over other fields.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from datacoop.chain.keys import RpcSigner, load_keystore, operator_signer
from datacoop.errors import IntegrityError, InvalidInput, NotFound, Unavailable
from datacoop.settings import Settings

PASSWORD = "correct horse battery staple"
TX: dict[str, Any] = {
    "to": "0x000000000000000000000000000000000000dEaD", "data": "0x1234", "value": 5, "nonce": 7,
    "gas": 50_000, "maxFeePerGas": 3 * 10**9, "maxPriorityFeePerGas": 10**9, "chainId": 84_532,
}  # fmt: skip
TYPED: dict[str, Any] = {
    "types": {
        "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "chainId", "type": "uint256"}],
        "Entry": [{"name": "cid", "type": "bytes32"}, {"name": "amount", "type": "uint256"}],
    },
    "primaryType": "Entry",
    "domain": {"name": "DataCoop", "chainId": 84_532},
    "message": {"cid": b"\x11" * 32, "amount": 3},
}


def _keystore(tmp_path: Path, account: LocalAccount) -> Path:
    path = tmp_path / "operator.json"
    # a low scrypt cost keeps the test fast; the format and the decrypt path are the real ones
    path.write_text(json.dumps(Account.encrypt(account.key, PASSWORD, kdf="scrypt", iterations=2**10)))
    return path


class _Signer(BaseHTTPRequestHandler):
    key: LocalAccount
    mode = "honest"

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        method, params = request["method"], request["params"]
        key = Account.create() if self.mode == "other-key" else self.key
        reply: dict[str, Any] = {}
        if method == "eth_accounts":
            result: Any = [self.key.address]
        elif method == "eth_signTransaction":
            asked = params[0]
            tx = {k: int(v, 16) for k, v in asked.items() if k not in ("from", "to", "data", "type")}
            tx |= {"to": asked["to"], "data": asked["data"], "type": 2}
            if self.mode == "tampered":
                tx["value"] += 1
            result = {"raw": "0x" + key.sign_transaction(tx).raw_transaction.hex()}  # Clef's shape
        elif method == "eth_signTypedData" or self.mode != "web3signer":
            result = "0x" + key.sign_typed_data(full_message=params[1]).signature.hex()
        else:  # web3signer knows typed data only as eth_signTypedData
            result = None
            reply = {"jsonrpc": "2.0", "id": request["id"], "error": {"code": -32601, "message": "not found"}}
        if result is not None:
            reply = {"jsonrpc": "2.0", "id": request["id"], "result": result}
        body = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:  # keep pytest's output clean
        pass


@pytest.fixture
def external() -> Iterator[tuple[str, type[_Signer]]]:
    handler = type("Handler", (_Signer,), {"key": Account.create(), "mode": "honest"})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def test_a_keystore_decrypts_to_its_key(tmp_path: Path) -> None:
    account = Account.create()
    assert load_keystore(_keystore(tmp_path, account), PASSWORD).key == account.key


def test_a_wrong_password_or_missing_file_names_the_keystore(tmp_path: Path) -> None:
    path = _keystore(tmp_path, Account.create())
    with pytest.raises(InvalidInput, match="cannot decrypt") as err:
        load_keystore(path, "wrong")
    assert err.value.field == "operator_keystore"
    with pytest.raises(NotFound) as missing:
        load_keystore(tmp_path / "nope.json", PASSWORD)
    assert missing.value.field == "operator_keystore"


def test_settings_unlock_the_keystore_from_the_password_file(tmp_path: Path) -> None:
    # Prepare: the password file ends with the newline an editor adds
    account = Account.create()
    (tmp_path / "pw").write_text(PASSWORD + "\n")
    settings = Settings(
        operator_keystore=_keystore(tmp_path, account), operator_password_file=tmp_path / "pw"
    )
    # Execute
    signer = operator_signer(settings)
    # Assert
    assert signer is not None and signer.address == account.address


def test_without_a_password_file_the_prompt_is_asked_or_the_setting_named(tmp_path: Path) -> None:
    account = Account.create()
    settings = Settings(operator_keystore=_keystore(tmp_path, account))
    asked: list[str] = []
    signer = operator_signer(settings, prompt=lambda q: asked.append(q) or PASSWORD)
    assert signer is not None and signer.address == account.address and "password for" in asked[0]
    with pytest.raises(InvalidInput) as err:
        operator_signer(settings)
    assert err.value.field == "operator_password_file"


def test_no_operator_key_configured_gives_none() -> None:
    assert operator_signer(Settings()) is None


def test_an_external_signer_signs_what_was_asked(external: tuple[str, type[_Signer]]) -> None:
    # Prepare
    url, handler = external
    signer = RpcSigner(url)  # one account listed: it is the operator
    # Execute
    signed = signer.sign_transaction(TX)
    typed = signer.sign_typed_data(full_message=TYPED)
    # Assert: the raw bytes are the key's own signature over exactly TX
    expected = handler.key.sign_transaction(TX | {"type": 2})
    assert signer.address == handler.key.address
    assert (signed.raw_transaction, signed.hash) == (bytes(expected.raw_transaction), bytes(expected.hash))
    assert typed.signature == bytes(handler.key.sign_typed_data(full_message=TYPED).signature)
    signer.close()


@pytest.mark.parametrize("mode", ["other-key", "tampered"])
def test_an_external_signature_over_anything_else_is_refused(
    external: tuple[str, type[_Signer]], mode: str
) -> None:
    url, handler = external
    signer = RpcSigner(url, handler.key.address)
    handler.mode = mode
    with pytest.raises(IntegrityError, match="value" if mode == "tampered" else "from") as err:
        signer.sign_transaction(TX)
    assert err.value.field == "operator_signer_url"
    if mode == "other-key":
        with pytest.raises(IntegrityError, match="signed with"):
            signer.sign_typed_data(full_message=TYPED)
    signer.close()


def test_typed_data_falls_back_to_web3signers_method_name(external: tuple[str, type[_Signer]]) -> None:
    url, handler = external
    handler.mode = "web3signer"
    signed = RpcSigner(url).sign_typed_data(full_message=TYPED)
    assert signed.signature == bytes(handler.key.sign_typed_data(full_message=TYPED).signature)


def test_an_unreachable_signer_names_its_setting() -> None:
    with pytest.raises(Unavailable) as err:
        RpcSigner("http://127.0.0.1:1")
    assert err.value.field == "operator_signer_url"
