"""Signing and checking a delivery, the back-off between tries, and where an endpoint may be."""

from __future__ import annotations

import hashlib
import hmac
import random
from datetime import timedelta

import pytest

from datacoop.errors import Forbidden, InvalidInput
from datacoop.webhooks.rules import backoff, check_url
from datacoop.webhooks.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, headers, new_secret, sign, verify

BODY = b'{"id":"evt_1","type":"submission.decided","data":{}}'
NOW = 1_800_000_000


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body_as_the_docs_say() -> None:
    secret = new_secret()
    expected = hmac.new(secret.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(secret, NOW, BODY) == f"v1={expected}"
    sent = headers(secret, "evt_1", "submission.decided", NOW, BODY)
    assert (sent[TIMESTAMP_HEADER], sent[SIGNATURE_HEADER]) == (str(NOW), f"v1={expected}")


def test_a_receiver_accepts_the_delivery_as_sent() -> None:
    secret = new_secret()
    verify(secret, str(NOW), sign(secret, NOW, BODY), BODY, now=NOW + 10)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"body": BODY + b" "}, "signature"),  # the body changed
        ({"secret": "whsec_other"}, "signature"),  # signed by someone else
        ({"timestamp": str(NOW + 1)}, "signature"),  # a fresh timestamp on an old signature
        ({"now": NOW + 301}, "timestamp"),  # replayed after the tolerance
        ({"now": NOW - 301}, "timestamp"),  # from the future
        ({"timestamp": "soon"}, "timestamp"),
        ({"signature": "v1=ünïcode"}, "signature"),
    ],
)
def test_a_receiver_refuses_a_changed_or_replayed_delivery(change: dict[str, object], field: str) -> None:
    secret = new_secret()
    given: dict[str, object] = {"secret": secret, "timestamp": str(NOW), "signature": sign(secret, NOW, BODY),
                                "body": BODY, "now": NOW}  # fmt: skip
    given.update(change)
    with pytest.raises(Forbidden) as refused:
        verify(
            str(given["secret"]), str(given["timestamp"]), str(given["signature"]), given["body"],  # type: ignore[arg-type]
            now=int(given["now"]),  # type: ignore[call-overload]
        )  # fmt: skip
    assert refused.value.field == field


def test_secrets_are_random_and_long() -> None:
    one, two = new_secret(), new_secret()
    assert one != two and one.startswith("whsec_") and len(one) == 6 + 64


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    base, cap, rng = timedelta(seconds=5), timedelta(minutes=10), random.Random(3)
    for attempts in range(1, 80):
        ceiling = min(base * 2 ** min(attempts - 1, 20), cap)
        waits = [backoff(attempts, base=base, cap=cap, rng=rng) for _ in range(50)]
        assert all(ceiling / 2 <= w <= ceiling for w in waits), attempts
        assert len(set(waits)) > 1  # jittered: receivers coming back are not all hit at once
    assert backoff(10_000, base=base, cap=cap) <= cap  # no overflow, however many tries


@pytest.mark.parametrize(
    "url",
    ["https://hooks.example.com/datacoop", "https://hooks.example.com:8443/x?y=1", "http://127.0.0.1:9000/hook",
     "http://localhost/hook", "http://[::1]:8080/"],
)  # fmt: skip
def test_https_anywhere_and_loopback_http_in_development(url: str) -> None:
    assert check_url(url, allow_loopback_http=True) == url


@pytest.mark.parametrize(
    "url",
    ["http://hooks.example.com/x", "http://10.0.0.5/x", "ftp://example.com/x", "https://", "not a url",
     "https://user:pw@example.com/x", "https://example.com/x#frag", "https://example.com:99999/x",
     "https://example.com/" + "x" * 2000, "https://10.1.2.3/x", "https://169.254.169.254/latest",
     "https://[fd00::1]/x"],
)  # fmt: skip
def test_other_urls_are_refused_naming_the_field(url: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_url(url, allow_loopback_http=True)
    assert refused.value.field == "url"


def test_a_production_node_refuses_loopback_even_over_https() -> None:
    with pytest.raises(InvalidInput, match="https on a production node"):
        check_url("http://127.0.0.1:9000/hook", allow_loopback_http=False)
    with pytest.raises(InvalidInput, match="loopback"):
        check_url("https://127.0.0.1:9000/hook", allow_loopback_http=False)
    assert check_url("https://127.0.0.1:9000/hook", allow_loopback_http=True)
