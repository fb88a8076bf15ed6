"""What sign-in takes and returns (the API's and the SDK's shapes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import Field

from datacoop.schemas import _Model

__all__ = [
    "Caller",
    "Eip712DomainPublic",
    "Eip712Member",
    "Eip712Public",
    "MePublic",
    "NoncePublic",
    "SessionPublic",
    "SignIn",
]


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


class MePublic(_Model):
    """Who the session's token signs in."""

    address: str = Field(description="EIP-55 checksummed")
    did: str = Field(description="did:pkh:eip155:<chain id>:<address>")


class Eip712DomainPublic(_Model):
    """The EIP-712 domain every DataCoop signature is bound to: one chain, one contract."""

    name: str
    version: str
    chain_id: int = Field(alias="chainId")
    verifying_contract: str = Field(alias="verifyingContract")


class Eip712Member(_Model):
    """One member of an EIP-712 struct type."""

    name: str
    type: str = Field(description="its Solidity type, e.g. uint256, address, string")


class Eip712Public(_Model):
    """The EIP-712 domain and types of every message DataCoop asks a wallet to sign, and the one
    spelling accepted for the string members that have several."""

    domain: Eip712DomainPublic
    types: dict[str, list[Eip712Member]] = Field(description="EIP712Domain and each message's members")
    primary_types: list[str] = Field(alias="primaryTypes", description="the message types a wallet signs")
    canonical: dict[str, dict[str, str]] = Field(
        description="per message type, per member: the canonical form its value must have"
    )
