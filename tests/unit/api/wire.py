"""An app served over a real socket, and a client that streams a body until the server answers.

``TestClient`` reads a request body whole before the app sees it, so it cannot show that a
server stops reading; these talk HTTP/1.1 to uvicorn over TCP instead.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn


@contextlib.contextmanager
def serve(app: Any) -> Iterator[int]:
    """Serve ``app`` with uvicorn on a free local port (yielded) until the block ends."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass
class Answer:
    status: int
    body: Any
    sent: int  # body bytes the client got out before the server answered


def _read_answer(sock: socket.socket) -> tuple[int, Any]:
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next(int(h.split(":")[1]) for h in lines if h.lower().startswith("content-length:"))
    while len(rest) < length:
        rest += sock.recv(65536)
    return int(lines[0].split()[1]), json.loads(rest[:length])


def post_until_answered(
    port: int, path: str, *, total: int, declared: bool, headers: dict[str, str] | None = None
) -> Answer:
    """POST ``total`` bytes of spaces in 64 KiB writes, stopping as soon as the server answers."""
    chunk = b" " * 65536
    framing = {"Content-Length": str(total)} if declared else {"Transfer-Encoding": "chunked"}
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    lines += [f"{k}: {v}" for k, v in {**framing, **(headers or {})}.items()]
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        while sent < total and not select.select([sock], [], [], 0)[0]:
            piece = chunk if declared else b"%x\r\n%s\r\n" % (len(chunk), chunk)
            try:
                writable = select.select([], [sock], [], 5)[1]
                if not writable:
                    break  # the server stopped reading: its answer is waiting
                sock.sendall(piece)
            except OSError:  # it answered and closed
                break
            sent += len(chunk)
        status, body = _read_answer(sock)
    return Answer(status, body, sent)
