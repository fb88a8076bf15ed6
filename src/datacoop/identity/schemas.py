"""What sign-in takes and returns (the API's and the SDK's shapes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import Field

from datacoop.schemas import _Model

__all__ = ["Caller", "NoncePublic", "SessionPublic", "SignIn"]


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling, as a route sees them: a value, not the database row (nothing to lazy-load)."""

    id: int
    address: str  # EIP-55 checksummed
    did: str  # did:pkh:eip155:<chain id>:<address>


class NoncePublic(_Model):
    nonce: str
    expires_at: datetime
    domain: str
    chain_id: int
    uri: str


class SignIn(_Model):
    message: str = Field(min_length=1, max_length=1024, description="the EIP-4361 message text")
    signature: str = Field(
        min_length=4,
        max_length=300,
        pattern=r"^0x([0-9a-fA-F]{2})+$",
        description="0x-hex; a key's or an ERC-1271 wallet's",
    )


class SessionPublic(_Model):
    token: str
    address: str
    did: str
    expires_at: datetime
