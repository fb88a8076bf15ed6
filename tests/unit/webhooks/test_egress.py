"""A delivery connects only to public addresses, whatever name the subscriber registered.

Real sockets on 127.0.0.1: a listener counts the connections it accepts, so "refused" means the
node never opened one, not that the receiver turned the request away.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest

from datacoop.db import Database
from datacoop.webhooks.egress import guarded_transport, refusal
from datacoop.webhooks.service import WebhookService


class Listener:
    """A TCP server on 127.0.0.1 that answers every request 200 and counts its connections."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port, self.accepted = self.sock.getsockname()[1], 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    made = Listener()
    yield made
    made.close()


def _loopback_name() -> str:
    """A host name (not an IP literal, not 'localhost') that this machine resolves to loopback."""
    for name in (socket.gethostname(), "localhost.localdomain", "ip6-localhost"):
        try:
            found = {info[4][0] for info in socket.getaddrinfo(name, 80, type=socket.SOCK_STREAM)}
        except OSError:
            continue
        if found and all(ipaddress.ip_address(a).is_loopback for a in found):
            return name
    pytest.skip("no host name here resolves to loopback only")


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
        ("10.0.0.5", "internal"),
        ("192.168.1.1", "internal"),
        ("169.254.169.254", "internal"),  # a cloud's metadata service
        ("100.64.0.1", "internal"),  # carrier-grade NAT
        ("::ffff:10.0.0.5", "internal"),  # IPv4-mapped: the same private address
        ("fd00::1", "internal"),
        ("224.0.0.1", "internal"),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
    ],
)
def test_only_public_addresses_may_be_reached(address: str, why: str | None) -> None:
    found = refusal(ipaddress.ip_address(address), allow_loopback=False)
    assert (found is None) if why is None else (why in (found or ""))


def test_loopback_is_allowed_only_where_asked() -> None:
    assert refusal(ipaddress.ip_address("127.0.0.1"), allow_loopback=True) is None
    assert refusal(ipaddress.ip_address("10.0.0.5"), allow_loopback=True) is not None


def test_a_name_that_resolves_inward_is_never_connected_to(listener: Listener) -> None:
    # Prepare: a name registered as if public (no IP literal), resolving to this machine
    name = _loopback_name()
    # Execute
    with httpx.Client(transport=guarded_transport(), timeout=5) as http:
        with pytest.raises(httpx.ConnectError) as by_name:
            http.post(f"https://{name}:{listener.port}/hook", content=b"{}")
        with pytest.raises(httpx.ConnectError) as by_literal:
            http.post(f"http://127.0.0.1:{listener.port}/hook", content=b"{}")
    # Assert: no connection was opened, and the error says why (it goes into the delivery log)
    assert listener.accepted == 0
    assert f"{name} resolves to 127.0.0.1, a loopback address" in str(by_name.value)
    assert "a loopback address: nothing is sent there" in str(by_literal.value)


def test_a_development_node_may_deliver_to_its_own_machine(listener: Listener) -> None:
    with httpx.Client(transport=guarded_transport(allow_loopback=True), timeout=5) as http:
        answer = http.post(f"http://{_loopback_name()}:{listener.port}/hook", content=b"{}")
    assert answer.status_code == 200 and listener.accepted == 1


def test_the_webhook_service_delivers_through_the_guard(db: Database, listener: Listener) -> None:
    production, development = WebhookService(db), WebhookService(db, allow_loopback_http=True)
    url = f"http://127.0.0.1:{listener.port}/hook"
    with pytest.raises(httpx.ConnectError):
        production.sender._http.post(url, content=b"{}")
    assert listener.accepted == 0
    assert development.sender._http.post(url, content=b"{}").status_code == 200
    assert listener.accepted == 1
