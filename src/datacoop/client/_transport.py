"""The transport every part of :class:`~datacoop.client.DataCoopClient` sends through.

One ``httpx.Client`` (pass your own, for example Starlette's ``TestClient``), the session token of
Sign-In with Ethereum, errors turned back into :mod:`datacoop.errors`, and the node-wide calls
(health, the chain relay's URL, the EIP-712 domain). The capability mixins (``_tasks``, ``_review``,
``_money``, ``_datasets``, ``_compute``) inherit :class:`Transport`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO, Self, TypeVar

import httpx2 as httpx
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from pydantic import BaseModel

from datacoop.errors import DataCoopError, NotAuthenticated, Unavailable, error_from_body
from datacoop.identity.eip712 import Eip712Domain
from datacoop.identity.schemas import NoncePublic, SessionPublic
from datacoop.identity.siwe import build_message

__all__ = ["UPLOAD_CHUNK", "Transport"]

M = TypeVar("M", bound=BaseModel)
UPLOAD_CHUNK = 1 << 20


def _raise_for(response: httpx.Response) -> None:
    if response.is_success:
        return
    try:
        body = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        raise DataCoopError(f"HTTP {response.status_code}: {response.text[:200]}") from None
    raise error_from_body(body)


def _stream_chunks(f: BinaryIO, progress: Callable[[int], None] | None) -> Iterator[bytes]:
    sent = 0
    while chunk := f.read(UPLOAD_CHUNK):
        sent += len(chunk)
        if progress:
            progress(sent)
        yield chunk


def _file_chunks(path: Path, progress: Callable[[int], None] | None) -> Iterator[bytes]:
    with path.open("rb") as f:
        yield from _stream_chunks(f, progress)


class Transport:
    """The HTTP plumbing and session of a client of one DataCoop node, signing as ``account``."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        *,
        account: LocalAccount | None = None,
        http: httpx.Client | None = None,
        timeout: float = 120.0,
    ) -> None:
        self.account = account
        self._http = http or httpx.Client(base_url=base_url, timeout=timeout)
        self._token: str | None = None
        self._eip712: Eip712Domain | None = None

    # --- plumbing ---------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = kwargs.pop("headers", {}) | self._auth_headers()
        try:
            response = self._http.request(method, "/v1" + path, headers=headers, **kwargs)
        except httpx.TransportError as exc:
            raise Unavailable(f"cannot reach the DataCoop node: {exc}", field="url") from exc
        _raise_for(response)
        return response

    def _get(self, path: str, model: type[M], **kwargs: Any) -> M:
        return model.model_validate(self._request("GET", path, **kwargs).json())

    def _pages(self, path: str, params: dict[str, Any], limit: int = 500) -> Iterator[Any]:
        """Each row of a keyset-paged list, following X-Next-Cursor until the last page."""
        after: str | None = None
        while True:
            r = self._request(
                "GET", path, params={**params, "limit": limit, **({"after": after} if after else {})}
            )
            yield from r.json()
            after = r.headers.get("x-next-cursor")
            if after is None:
                return

    def _need_account(self) -> LocalAccount:
        if self.account is None:
            raise NotAuthenticated("this call signs: create the client with an account", field="key")
        return self.account

    # --- identity ---------------------------------------------------------------------------

    def login(self) -> SessionPublic:
        """Sign in with Ethereum (EIP-4361) and keep the session token for later calls."""
        account = self._need_account()
        nonce = self._get("/auth/nonce", NoncePublic)
        now = datetime.now(UTC)
        message = build_message(
            domain=nonce.domain,
            address=account.address,
            uri=nonce.uri,
            chain_id=nonce.chain_id,
            nonce=nonce.nonce,
            issued_at=now,
            expiration_time=now + timedelta(minutes=10),
        )
        signature = account.sign_message(encode_defunct(text=message)).signature.hex()
        body = {"message": message, "signature": "0x" + signature.removeprefix("0x")}
        session = SessionPublic.model_validate(self._request("POST", "/auth/siwe", json=body).json())
        self._token = session.token
        return session

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"} if self._token else {}

    def health(self) -> dict[str, Any]:
        """Each part's status and the chain's public facts (the operator, signed in, sees the details)."""
        response = self._http.get("/v1/health", headers=self._auth_headers())
        data: dict[str, Any] = response.json()
        return data

    @property
    def chain_rpc_url(self) -> str:
        """The node's JSON-RPC relay (``POST /v1/chain/rpc``): reads and signed transactions only."""
        return str(self._http.base_url).rstrip("/") + "/v1/chain/rpc"

    def eip712_domain(self) -> Eip712Domain:
        """The node's EIP-712 domain, asked once per client: a node's chain and contract do not change."""
        if self._eip712 is None:
            domain = self._request("GET", "/eip712").json()["domain"]
            self._eip712 = Eip712Domain(
                name=domain["name"],
                version=domain["version"],
                chain_id=domain["chainId"],
                verifying_contract=domain["verifyingContract"],
            )
        return self._eip712

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
