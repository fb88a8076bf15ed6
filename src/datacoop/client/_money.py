"""The SDK's money calls: settlement (escrow, epochs, claims, statements, spend) and the exchange
(listings, orders, downloads, royalties)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from datacoop.client._transport import Transport, _raise_for
from datacoop.errors import Conflict

__all__ = ["MoneyCalls"]


class MoneyCalls(Transport):
    """Settlement and the exchange (a part of :class:`~datacoop.client.DataCoopClient`)."""

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
        """Every epoch of the task (every page), oldest first."""
        return list(self._pages(f"/tasks/{task_id}/epochs", {}))

    def claims(self, address: str | None = None) -> list[dict[str, Any]]:
        """Per task: cumulative entitlement, proof and what is already claimed (default: your account)."""
        who = address or self._need_account().address
        return list(self._pages(f"/claims/{who}", {}))

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
        return list(self._pages("/listings", params))

    def listing(self, listing_id: int) -> dict[str, Any]:
        return dict(self._request("GET", f"/listings/{listing_id}").json())

    def place_order(
        self,
        listing_id: int,
        tx_hash: str,
        jurisdiction: str,
        purpose: str = "training",
        safeguards: Iterable[str] = (),
        *,
        wait_s: float = 300,
    ) -> dict[str, Any]:
        """Tell the node about a licence bought on chain (LicenseMarket.buy); returns the grant.

        The node records the order once its own chain watcher holds the purchase at the node's
        confirmation depth; until then it answers Conflict on ``confirmations``, and this asks again
        for up to ``wait_s`` seconds.
        """
        body = {
            "listing_id": listing_id,
            "tx_hash": tx_hash,
            "jurisdiction": jurisdiction,
            "purpose": purpose,
            "safeguards": list(safeguards),
        }
        deadline = time.monotonic() + wait_s
        while True:
            try:
                return dict(self._request("POST", "/orders", json=body).json())
            except Conflict as exc:
                if exc.field != "confirmations" or time.monotonic() > deadline:
                    raise
            time.sleep(0.5)

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
        return list(self._pages(f"/royalties/{who}", {}))

    def close_royalty_round(self, listing_id: int) -> dict[str, Any] | None:
        """Post the listing's next royalty root (the operator only); None when nothing is new."""
        response = self._request("POST", f"/listings/{listing_id}/royalty-rounds")
        return None if response.status_code == 204 else dict(response.json())
