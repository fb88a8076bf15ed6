"""Compute-to-data and federated learning: the buyer's computation goes to the data.

``algorithm`` checks what a buyer submits, ``sandbox`` runs it beside the data, ``outputs`` and
``fingerprints`` decide what may leave, ``signing`` makes download links, ``licences`` is the
port that says who may compute on which version, and ``federated`` trains with Flower.
"""

from __future__ import annotations

from datacoop.compute.algorithm import Algorithm, parse_algorithm
from datacoop.compute.fingerprints import Fingerprints
from datacoop.compute.licences import ComputeLicences, DatabaseLicences, LicenceGrant
from datacoop.compute.outputs import OutputLimits, check_outputs
from datacoop.compute.sandbox import Limits, SandboxResult, run_sandboxed
from datacoop.compute.schemas import JobOutput, JobPublic
from datacoop.compute.signing import OutputSigner
from datacoop.compute.syscalls import require_isolation

__all__ = [
    "Algorithm",
    "ComputeLicences",
    "DatabaseLicences",
    "Fingerprints",
    "JobOutput",
    "JobPublic",
    "LicenceGrant",
    "Limits",
    "OutputLimits",
    "OutputSigner",
    "SandboxResult",
    "check_outputs",
    "parse_algorithm",
    "require_isolation",
    "run_sandboxed",
]
