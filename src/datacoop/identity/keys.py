"""Where the SDK and CLI get a signing key: a dev account, a keystore file, or the environment."""

from __future__ import annotations

import json
import os
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from datacoop.errors import InvalidInput, NotFound

__all__ = ["DEV_MNEMONIC", "derive_dev_accounts", "load_account", "write_dev_accounts"]

# The well-known development mnemonic anvil and hardhat fund by default. Public: never use on a real chain.
DEV_MNEMONIC = "test test test test test test test test test test test junk"
DEV_ACCOUNTS_FILE = "dev-accounts.json"


def derive_dev_accounts(count: int) -> list[LocalAccount]:
    Account.enable_unaudited_hdwallet_features()
    return [Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}") for i in range(count)]


def write_dev_accounts(data_dir: Path, count: int) -> list[LocalAccount]:
    """Write the dev accounts' keys to ``<data_dir>/dev-accounts.json`` and return them."""
    accounts = derive_dev_accounts(count)
    doc = {
        "warning": "development keys from a public mnemonic; anyone can spend what they hold",
        "accounts": [{"address": a.address, "private_key": "0x" + a.key.hex()} for a in accounts],
    }
    path = data_dir / DEV_ACCOUNTS_FILE
    path.write_text(json.dumps(doc, indent=2) + "\n")
    path.chmod(0o600)
    return accounts


def _dev_account(spec: str, data_dir: Path) -> LocalAccount:
    index_text = spec.removeprefix("dev:")
    if not index_text.isdigit():
        raise InvalidInput(f"--key {spec!r}: expected dev:N with N a number", field="key")
    path = data_dir / DEV_ACCOUNTS_FILE
    if not path.exists():
        raise NotFound(f"no {path}: start the node with `datacoop up` first", field="key")
    accounts = json.loads(path.read_text())["accounts"]
    index = int(index_text)
    if index >= len(accounts):
        raise InvalidInput(
            f"--key {spec}: there are {len(accounts)} dev accounts", field="key", limit=len(accounts)
        )
    acct: LocalAccount = Account.from_key(accounts[index]["private_key"])
    return acct


def _keystore(path: Path) -> LocalAccount:
    password = os.environ.get("DATACOOP_KEY_PASSWORD")
    if password is None:
        import getpass

        password = getpass.getpass(f"password for {path}: ")
    try:
        key = Account.decrypt(json.loads(path.read_text()), password)
    except ValueError as exc:
        raise InvalidInput(f"cannot decrypt {path}: {exc}", field="key") from exc
    acct: LocalAccount = Account.from_key(key)
    return acct


def load_account(spec: str | None, *, data_dir: Path = Path(".datacoop")) -> LocalAccount:
    """A signing account from ``dev:N``, a keystore file path, or ``DATACOOP_PRIVATE_KEY``.

    Args:
        spec: ``dev:N`` (the node's Nth dev account), a path to an encrypted keystore JSON,
            or None to read a hex private key from the ``DATACOOP_PRIVATE_KEY`` environment variable.
        data_dir: the node's data directory, where ``dev:N`` keys are read.
    """
    if spec is None:
        raw = os.environ.get("DATACOOP_PRIVATE_KEY")
        if not raw:
            raise InvalidInput(
                "no signing key: pass --key dev:0 (a dev account of `datacoop up`), --key KEYSTORE.json, "
                "or set DATACOOP_PRIVATE_KEY",
                field="key",
            )
        try:
            acct: LocalAccount = Account.from_key(raw)
        except (ValueError, TypeError) as exc:
            raise InvalidInput("DATACOOP_PRIVATE_KEY is not a 32-byte hex key", field="key") from exc
        return acct
    if spec.startswith("dev:"):
        return _dev_account(spec, data_dir)
    path = Path(spec)
    if not path.is_file():
        raise NotFound(f"no keystore file {path}", field="key")
    return _keystore(path)
