"""DataCoop's Python SDK: the REST API with signing done locally.

    >>> client = DataCoopClient("http://127.0.0.1:8000", account=load_account("dev:1"))
    >>> client.login()
    >>> blob = client.upload("mask.jpg")
    >>> client.submit(task_id=1, cid=blob.cid, jurisdiction="KE")

The network sits behind one ``httpx.Client``; pass your own (for example
Starlette's ``TestClient``) to talk to an app in-process.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO, TypeVar, cast

import httpx2 as httpx
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from pydantic import BaseModel

from datacoop.cid import parse_cid
from datacoop.compute.schemas import JobPublic
from datacoop.datasets.schemas import DatasetPublic, VersionPublic, WithdrawalPublic
from datacoop.errors import DataCoopError, NotAuthenticated, Unavailable, error_from_body
from datacoop.identity.addresses import normalize_jurisdiction
from datacoop.identity.eip712 import AppealMessage, Eip712Domain, SubmissionMessage, VoteMessage, sign_typed
from datacoop.identity.schemas import NoncePublic, SessionPublic
from datacoop.identity.siwe import build_message
from datacoop.review.schemas import (
    AppealPublic,
    GoldItemPublic,
    ReviewItem,
    ReviewStatus,
    ValidatorPublic,
    VotePublic,
)
from datacoop.tasks.schemas import BlobPublic, SubmissionCreate, SubmissionPublic, TaskCreate, TaskPublic

__all__ = ["DataCoopClient"]

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


class DataCoopClient:
    """A client of one DataCoop node, signing as ``account`` (optional for read-only use)."""

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

    # --- tasks ------------------------------------------------------------------------------

    def create_task(self, task: TaskCreate) -> TaskPublic:
        data = self._request("POST", "/tasks", json=task.model_dump(mode="json")).json()
        return TaskPublic.model_validate(data)

    def list_tasks(self, status: str | None = None) -> list[TaskPublic]:
        params = {"status": status} if status else {}
        return [TaskPublic.model_validate(t) for t in self._request("GET", "/tasks", params=params).json()]

    def get_task(self, task_id: int) -> TaskPublic:
        return self._get(f"/tasks/{task_id}", TaskPublic)

    # --- blobs and submissions --------------------------------------------------------------

    def upload(
        self,
        source: str | Path | bytes | BinaryIO | Iterable[bytes],
        *,
        progress: Callable[[int], None] | None = None,
    ) -> BlobPublic:
        """Stream a file, bytes, a binary stream or an iterable of chunks to the node; returns its CID.

        ``progress`` is called with the number of bytes sent so far.
        """
        if isinstance(source, bytes):
            body: Any = source
        elif isinstance(source, str | Path):
            body = _file_chunks(Path(source), progress)
        elif hasattr(source, "read"):
            body = _stream_chunks(cast(BinaryIO, source), progress)
        else:
            body = source  # chunks as given: sent with chunked transfer encoding
        headers = {"Content-Type": "application/octet-stream"}
        if isinstance(source, str | Path):
            headers["Content-Length"] = str(Path(source).stat().st_size)
        return BlobPublic.model_validate(
            self._request("POST", "/blobs", content=body, headers=headers).json()
        )

    def submit(
        self,
        task_id: int,
        cid: str,
        jurisdiction: str,
        *,
        consent_hash: str | None = None,
        nonce: int | None = None,
        valid_for: timedelta = timedelta(hours=1),
    ) -> SubmissionPublic:
        """Sign an EIP-712 ``Submission`` for an uploaded blob and commit it to a task.

        The consent hash defaults to the task's own: signing it states the contributor
        agreed to the consent text the task shows.
        """
        account = self._need_account()
        if consent_hash is None:
            consent_hash = self.get_task(task_id).consent_hash
        cid = parse_cid(cid)  # the node takes, and so the wallet signs, the canonical spellings
        message = SubmissionMessage(
            contributor=account.address,
            task_id=task_id,
            cid=cid,
            consent_hash=consent_hash,
            jurisdiction=normalize_jurisdiction(jurisdiction),
            nonce=nonce if nonce is not None else secrets.randbits(64),
            deadline=int(time.time() + valid_for.total_seconds()),
        )
        signature = sign_typed(account.key, message.to_typed_data(self.eip712_domain()))
        body = SubmissionCreate(
            cid=cid,
            consent_hash=consent_hash,
            jurisdiction=message.jurisdiction,
            nonce=message.nonce,
            deadline=message.deadline,
            signature=signature,
        )
        data = self._request(
            "POST", f"/tasks/{task_id}/submissions", json=body.model_dump(mode="json")
        ).json()
        return SubmissionPublic.model_validate(data)

    def get_submission(self, submission_id: int) -> SubmissionPublic:
        return self._get(f"/submissions/{submission_id}", SubmissionPublic)

    def my_submissions(self, task_id: int | None = None) -> list[SubmissionPublic]:
        params = {"task_id": task_id} if task_id is not None else {}
        data = self._request("GET", "/submissions", params=params).json()
        return [SubmissionPublic.model_validate(s) for s in data]

    # --- datasets ---------------------------------------------------------------------------

    def create_dataset(self, name: str, query: dict[str, Any]) -> DatasetPublic:
        data = self._request("POST", "/datasets", json={"name": name, "query": query}).json()
        return DatasetPublic.model_validate(data)

    def list_datasets(self) -> list[DatasetPublic]:
        return [DatasetPublic.model_validate(d) for d in self._request("GET", "/datasets").json()]

    def create_dataset_version(self, dataset_id: int, query: dict[str, Any] | None = None) -> VersionPublic:
        response = self._request("POST", f"/datasets/{dataset_id}/versions", json={"query": query})
        return VersionPublic.model_validate(response.json())

    def dataset_version(self, version_id: int) -> VersionPublic:
        return self._get(f"/dataset-versions/{version_id}", VersionPublic)

    def dataset_manifest(self, version_id: int) -> bytes:
        """The manifest's exact bytes (their CID is the version's ``manifest_cid``)."""
        return self._request("GET", f"/dataset-versions/{version_id}/manifest").content

    def dataset_proof(self, version_id: int, index: int) -> dict[str, Any]:
        proof: dict[str, Any] = self._request("GET", f"/dataset-versions/{version_id}/proof/{index}").json()
        return proof

    def withdraw(self, submission_id: int, reason: str = "") -> WithdrawalPublic:
        """Withdraw consent for a submission: it leaves every dataset version made from now on."""
        data = self._request("POST", f"/submissions/{submission_id}/withdraw", json={"reason": reason}).json()
        return WithdrawalPublic.model_validate(data)

    # --- settlement -------------------------------------------------------------------------

    def link_escrow(self, task_id: int, escrow_task_id: int) -> dict[str, Any]:
        """Tell the node which TaskEscrow task funds ``task_id`` (its requester only)."""
        body = {"escrow_task_id": escrow_task_id}
        result: dict[str, Any] = self._request("POST", f"/tasks/{task_id}/escrow", json=body).json()
        return result

    def close_epoch(self, task_id: int) -> dict[str, Any] | None:
        """Close the task's next epoch (the operator only); None when nothing new is owed."""
        response = self._request("POST", f"/tasks/{task_id}/epochs")
        return None if response.status_code == 204 else dict(response.json())

    def epochs(self, task_id: int) -> list[dict[str, Any]]:
        return list(self._request("GET", f"/tasks/{task_id}/epochs").json())

    def claims(self, address: str | None = None) -> list[dict[str, Any]]:
        """Per task: cumulative entitlement, proof and what is already claimed (default: your account)."""
        who = address or self._need_account().address
        return list(self._request("GET", f"/claims/{who}").json())

    def statement(self, address: str | None = None) -> dict[str, Any]:
        who = address or self._need_account().address
        return dict(self._request("GET", f"/statements/{who}").json())

    def spend(self, task_id: int) -> dict[str, Any]:
        return dict(self._request("GET", f"/tasks/{task_id}/spend").json())

    # --- exchange ---------------------------------------------------------------------------

    def create_listing(self, version_id: int, **terms: Any) -> dict[str, Any]:
        """List an anchored version: price, licence, duration_s, royalty_bps, access_modes, jurisdictions…"""
        body = {"version_id": version_id, **terms}
        if "price" in body:
            body["price"] = str(body["price"])
        return dict(self._request("POST", "/listings", json=body).json())

    def listings(self, **filters: Any) -> list[dict[str, Any]]:
        """Listings on sale; filters: q, modality, licence, max_price, min_items, max_size, origin, buyer."""
        params = {k: v for k, v in filters.items() if v is not None}
        return list(self._request("GET", "/listings", params=params).json())

    def listing(self, listing_id: int) -> dict[str, Any]:
        return dict(self._request("GET", f"/listings/{listing_id}").json())

    def place_order(
        self,
        listing_id: int,
        tx_hash: str,
        jurisdiction: str,
        purpose: str = "training",
        safeguards: Iterable[str] = (),
    ) -> dict[str, Any]:
        """Tell the node about a licence bought on chain (LicenseMarket.buy); returns the grant."""
        body = {
            "listing_id": listing_id,
            "tx_hash": tx_hash,
            "jurisdiction": jurisdiction,
            "purpose": purpose,
            "safeguards": list(safeguards),
        }
        return dict(self._request("POST", "/orders", json=body).json())

    def order(self, order_id: int) -> dict[str, Any]:
        return dict(self._request("GET", f"/orders/{order_id}").json())

    def download_url(self, order_id: int) -> dict[str, Any]:
        """A short-lived signed URL of the order's export (``url`` is relative to the node)."""
        return dict(self._request("GET", f"/orders/{order_id}/download-url").json())

    def download(
        self, order_id: int, out: Path | str, *, progress: Callable[[int], None] | None = None
    ) -> Path:
        """Download the order's export to ``out``, resuming from ``out`` + ``.part`` if one is there."""
        target = Path(out)
        part = target.with_name(target.name + ".part")
        have = part.stat().st_size if part.exists() else 0
        url = self.download_url(order_id)["url"]
        headers = self._auth_headers() | ({"Range": f"bytes={have}-"} if have else {})
        with self._http.stream("GET", url, headers=headers) as response:  # the buyer's session + the link
            if response.status_code == 416:  # nothing left to fetch
                part.replace(target)
                return target
            if not response.is_success:
                response.read()
                _raise_for(response)
            mode = "ab" if response.status_code == 206 else "wb"
            with part.open(mode) as f:
                for chunk in response.iter_bytes():
                    f.write(chunk)
                    if progress:
                        progress(len(chunk))
        part.replace(target)
        return target

    def royalties(self, address: str | None = None) -> list[dict[str, Any]]:
        """Per listing: cumulative royalty, proof and what is claimed (default: your account)."""
        who = address or self._need_account().address
        return list(self._request("GET", f"/royalties/{who}").json())

    def close_royalty_round(self, listing_id: int) -> dict[str, Any] | None:
        """Post the listing's next royalty root (the operator only); None when nothing is new."""
        response = self._request("POST", f"/listings/{listing_id}/royalty-rounds")
        return None if response.status_code == 204 else dict(response.json())

    # --- community review -------------------------------------------------------------------

    def validator_record(self) -> ValidatorPublic:
        """Your validator record; refused (403, field ``stake``) below the node's minimum stake."""
        return self._get("/reviews/me", ValidatorPublic)

    def next_review(self) -> ReviewItem | None:
        """The next item to review (signed in as a staked validator); None when nothing waits."""
        response = self._request("GET", "/reviews/next")
        return None if response.status_code == 204 else ReviewItem.model_validate(response.json())

    def vote(
        self, item: ReviewItem, decision: str, labels: list[str] | None = None, *, nonce: int | None = None
    ) -> VotePublic:
        """Sign an EIP-712 ``Vote`` on an assigned item and send it."""
        account = self._need_account()
        chosen = list(labels or [])
        message = VoteMessage(
            validator=account.address,
            task_id=item.task.id,
            assignment_id=item.assignment_id,
            decision=decision,
            labels=json.dumps(chosen, separators=(",", ":"), ensure_ascii=False),
            nonce=nonce if nonce is not None else secrets.randbits(64),
        )
        signature = sign_typed(account.key, message.to_typed_data(self.eip712_domain()))
        body = {"decision": decision, "labels": chosen, "nonce": message.nonce, "signature": signature}
        data = self._request("POST", f"/reviews/{item.assignment_id}/vote", json=body).json()
        return VotePublic.model_validate(data)

    def add_gold(self, task_id: int, cid: str, answer: str) -> GoldItemPublic:
        """Add an uploaded blob to a task of yours as a gold item with a known answer."""
        data = self._request("POST", f"/tasks/{task_id}/gold", json={"cid": cid, "answer": answer}).json()
        return GoldItemPublic.model_validate(data)

    def review_status(self, submission_id: int) -> ReviewStatus:
        return self._get(f"/submissions/{submission_id}/review", ReviewStatus)

    def decide(self, submission_id: int, decision: str, reason: str = "") -> ReviewStatus:
        """As the task's requester, settle an item the validators escalated."""
        body = {"decision": decision, "reason": reason}
        data = self._request("POST", f"/submissions/{submission_id}/decision", json=body).json()
        return ReviewStatus.model_validate(data)

    def appeal(self, submission_id: int, reason: str, *, nonce: int | None = None) -> AppealPublic:
        """Sign an EIP-712 ``Appeal`` of your rejected submission and send it (allowed once)."""
        account = self._need_account()
        message = AppealMessage(
            contributor=account.address,
            submission_id=submission_id,
            reason=reason,
            nonce=nonce if nonce is not None else secrets.randbits(64),
        )
        signature = sign_typed(account.key, message.to_typed_data(self.eip712_domain()))
        body = {"reason": reason, "nonce": message.nonce, "signature": signature}
        data = self._request("POST", f"/submissions/{submission_id}/appeal", json=body).json()
        return AppealPublic.model_validate(data)

    def get_appeal(self, submission_id: int) -> AppealPublic:
        return self._get(f"/submissions/{submission_id}/appeal", AppealPublic)

    # --- compute-to-data --------------------------------------------------------------------

    def compute_submit(
        self, version_id: int, algorithm: str | Path, *, entry: str | None = None,
        requirements: list[str] | None = None,
    ) -> JobPublic:  # fmt: skip
        """Send an algorithm (a .py file or a .zip package) to run beside a dataset version."""
        path = Path(algorithm)
        source = base64.b64encode(path.read_bytes()).decode()
        body = {"version_id": version_id, "filename": path.name, "entry": entry, "source": source,
                "requirements": requirements or []}  # fmt: skip
        return JobPublic.model_validate(self._request("POST", "/compute/jobs", json=body).json())

    def compute_job(self, job_id: int) -> JobPublic:
        return self._get(f"/compute/jobs/{job_id}", JobPublic)

    def compute_wait(self, job_id: int, *, timeout: float = 600, poll: float = 0.5) -> JobPublic:
        """Poll until the job is done (or ``timeout`` seconds pass: then its status as it stands)."""
        deadline = time.monotonic() + timeout
        job = self.compute_job(job_id)
        while job.status != "done" and time.monotonic() < deadline:
            time.sleep(poll)
            job = self.compute_job(job_id)
        return job

    def compute_fetch(self, job_id: int, out_dir: str | Path, names: list[str] | None = None) -> list[Path]:
        """Download released outputs (``names``, default all) through their signed URLs into ``out_dir``."""
        folder, saved = Path(out_dir), []
        for name in names if names is not None else [o.name for o in self.compute_job(job_id).outputs]:
            link = self._request("POST", f"/compute/jobs/{job_id}/outputs/{name}/link").json()
            response = self._http.get(link["url"], headers=self._auth_headers())
            _raise_for(response)
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(response.content)
            saved.append(target)
        return saved

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> DataCoopClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
