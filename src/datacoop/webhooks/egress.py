"""Where a delivery may connect: the address a host name resolves to, checked at connect time.

A subscriber chooses the URL, so a name that resolves to the node's own network (``10.0.0.5``, the
cloud's metadata service at ``169.254.169.254``, ``127.0.0.1``) would let it make the node POST
there. :func:`datacoop.webhooks.rules.check_url` refuses such IP literals when the subscription is
made, but a name is only resolved when a delivery connects, and may resolve differently each time
(DNS rebinding). So the connection itself is guarded: :class:`GuardedBackend` resolves the name,
refuses it when any of its addresses is not a public one (loopback is allowed on a development node),
and connects to the very address it checked, never resolving twice. TLS still verifies the
certificate against the URL's host name (httpcore takes that from the request, not the socket).

An operator who wants the promise held outside this process as well routes the node's egress
through a filtering proxy or firewall; this guard is what DataCoop does by itself.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable

import httpcore
import httpx

__all__ = ["GuardedBackend", "guarded_transport", "refusal"]

_Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def refusal(address: _Address, *, allow_loopback: bool) -> str | None:
    """Why a delivery may not connect to ``address``; None when it may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:10.0.0.1 is 10.0.0.1
    if address.is_loopback:
        return None if allow_loopback else "a loopback address"
    if address.is_global and not address.is_multicast:
        return None
    return "an internal address (private, link-local, reserved or multicast)"


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's socket backend, connecting only to public addresses it resolved itself."""

    def __init__(self, *, allow_loopback: bool = False) -> None:
        self._allow_loopback = allow_loopback

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise httpcore.ConnectError(f"{host} does not resolve: {exc}") from exc
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in found]
        for address in addresses:  # every one: a name that also resolves inward is refused whole
            why = refusal(address, allow_loopback=self._allow_loopback)
            if why is not None:
                raise httpcore.ConnectError(f"{host} resolves to {address}, {why}: nothing is sent there")
        if not addresses:
            raise httpcore.ConnectError(f"{host} resolves to no address")
        checked = str(addresses[0])
        return super().connect_tcp(checked, port, timeout, local_address, socket_options)


def guarded_transport(*, allow_loopback: bool = False) -> httpx.HTTPTransport:
    """An httpx transport whose connections go through :class:`GuardedBackend` (no proxy from the
    environment: a delivery goes straight to the address checked)."""
    transport = httpx.HTTPTransport(trust_env=False)
    # httpx builds its httpcore pool without a way to name the backend; the same pool, guarded
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False),
        network_backend=GuardedBackend(allow_loopback=allow_loopback),
    )
    return transport
