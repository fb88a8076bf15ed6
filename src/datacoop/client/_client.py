"""DataCoop's Python SDK: the REST API with signing done locally.

    >>> client = DataCoopClient("http://127.0.0.1:8000", account=load_account("dev:1"))
    >>> client.login()
    >>> blob = client.upload("mask.jpg")
    >>> client.submit(task_id=1, cid=blob.cid, jurisdiction="KE")

The network sits behind one ``httpx.Client``; pass your own (for example
Starlette's ``TestClient``) to talk to an app in-process.
"""

from __future__ import annotations

from datacoop.client._compute import ComputeCalls
from datacoop.client._datasets import DatasetCalls
from datacoop.client._money import MoneyCalls
from datacoop.client._review import ReviewCalls
from datacoop.client._tasks import TaskCalls

__all__ = ["DataCoopClient"]


# The calls live in private modules, one per capability, each over ``_transport.Transport`` (``__init__``,
# ``login``, ``health``, ``close``…), as httpx does; this class only joins them.
class DataCoopClient(TaskCalls, DatasetCalls, MoneyCalls, ReviewCalls, ComputeCalls):
    """A client of one DataCoop node, signing as ``account`` (optional for read-only use)."""
