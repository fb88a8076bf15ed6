"""DataCoop's Python SDK over the REST API."""

from datacoop.client._client import DataCoopClient
from datacoop.identity.keys import derive_dev_accounts, load_account, write_dev_accounts

__all__ = ["DataCoopClient", "derive_dev_accounts", "load_account", "write_dev_accounts"]
