"""docs/webhooks.md's receiver snippet runs, and checks what the node sends as the page says."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from datacoop.webhooks.rules import EventType
from datacoop.webhooks.signing import headers

PAGE = Path(__file__).resolve().parents[3] / "docs" / "webhooks.md"


def _snippet_verify() -> Any:
    code = re.findall(r"```python\n(.*?)```", PAGE.read_text(), re.S)
    assert len(code) == 1, "docs/webhooks.md has one Python snippet"
    scope: dict[str, Any] = {}
    exec(code[0], scope)  # the page's own code
    return scope["verify"]


def test_the_documented_receiver_accepts_a_delivery_once_and_refuses_a_forgery() -> None:
    verify, seen = _snippet_verify(), set[str]()
    body = b'{"id":"evt_1"}'
    sent = headers("whsec_abc", "evt_1", "submission.decided", int(time.time()), body)
    assert verify("whsec_abc", sent, body, seen) is True
    assert verify("whsec_abc", sent, body, seen) is False  # the same event again: deduplicated
    with pytest.raises(PermissionError, match="signature"):
        verify("whsec_other", sent, body, set())
    old = headers("whsec_abc", "evt_2", "submission.decided", int(time.time()) - 600, body)
    with pytest.raises(PermissionError, match="timestamp"):
        verify("whsec_abc", old, body, set())


def test_the_page_names_every_event_type() -> None:
    text = PAGE.read_text()
    assert all(f"`{kind.value}`" in text for kind in EventType)
