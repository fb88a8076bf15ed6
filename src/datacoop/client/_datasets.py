"""The SDK's dataset calls: datasets, versions, manifests, proofs and consent withdrawal."""

from __future__ import annotations

from typing import Any

from datacoop.client._transport import Transport
from datacoop.datasets.schemas import DatasetPublic, VersionPublic, WithdrawalPublic

__all__ = ["DatasetCalls"]


class DatasetCalls(Transport):
    """Datasets and their versions (a part of :class:`~datacoop.client.DataCoopClient`)."""

    # --- datasets ---------------------------------------------------------------------------

    def create_dataset(self, name: str, query: dict[str, Any]) -> DatasetPublic:
        data = self._request("POST", "/datasets", json={"name": name, "query": query}).json()
        return DatasetPublic.model_validate(data)

    def list_datasets(self) -> list[DatasetPublic]:
        """Every dataset (every page), oldest first."""
        return [DatasetPublic.model_validate(d) for d in self._pages("/datasets", {})]

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
