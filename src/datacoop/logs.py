"""Logs as text for a person at a terminal, or as one JSON object a line for a log pipeline.

Every line written while a request is served carries that request's id (``request_id``), which
the API also returns in the ``X-Request-Id`` header, so a user's report can be matched to the
node's lines. Code that works on one submission logs it as ``extra={"submission_id": n}`` (and
likewise ``task_id``, ``tx_key``), and the JSON line carries it as a field of its own.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import uuid
from datetime import UTC, datetime
from typing import Literal

__all__ = ["CONTEXT_FIELDS", "REQUEST_ID", "JsonFormatter", "configure_logging", "new_request_id"]

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("datacoop_request_id", default=None)
"""The id of the request being served in this context (None outside a request)."""

CONTEXT_FIELDS = ("submission_id", "task_id", "tx_key", "worker", "method", "route", "status", "duration_ms")
"""Fields a caller may pass with ``extra=`` that JSON lines carry as their own keys."""

_CALLER_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")  # what a client's own X-Request-Id may look like


def new_request_id(offered: str | None) -> str:
    """The client's ``X-Request-Id`` when it is a short plain token, else a fresh random one."""
    if offered is not None and _CALLER_ID.fullmatch(offered):
        return offered
    return uuid.uuid4().hex


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, request id, context."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = REQUEST_ID.get()
        if request_id is not None:
            line["request_id"] = request_id
        for name in CONTEXT_FIELDS:
            if name in record.__dict__:
                line[name] = record.__dict__[name]
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        request_id = REQUEST_ID.get()
        return f"{text} [request {request_id}]" if request_id is not None else text


def configure_logging(style: Literal["text", "json"] = "text", level: str = "info") -> None:
    """Send DataCoop's and uvicorn's records to stderr in ``style``; replaces handlers set before.

    Access lines (one a request) are written in the JSON style, for a log pipeline; at a terminal
    (text) only from the ``debug`` level."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter()
        if style == "json"
        else _TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    for name in ("datacoop", "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(level.upper())
        logger.propagate = False
    access = logging.getLogger("datacoop.access")
    access.setLevel(level.upper() if style == "json" else "DEBUG" if level.lower() == "debug" else "WARNING")
