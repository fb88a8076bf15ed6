"""The SDK's compute-to-data calls: send an algorithm, wait for its job, fetch the released outputs."""

from __future__ import annotations

import base64
import time
from pathlib import Path

from datacoop.client._transport import Transport, _raise_for
from datacoop.compute.schemas import JobPublic

__all__ = ["ComputeCalls"]


class ComputeCalls(Transport):
    """Compute-to-data jobs (a part of :class:`~datacoop.client.DataCoopClient`)."""

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
