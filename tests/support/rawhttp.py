"""Raw bytes over a loopback socket, for requests no HTTP client library will send.

httpx and browsers refuse to send a request line with a raw space, a duplicated Host, a method
nobody has heard of or a half-sent body; those are exactly what the daemon's parser and timeouts
must answer well, so the tests write the bytes themselves and read the answer back.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RawResponse:
    """A parsed HTTP/1.x response: status, headers (lowercase names), body bytes."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body)


def parse_response(data: bytes) -> RawResponse:
    """The first response in `data` (which must hold at least its head)."""
    head, separator, rest = data.partition(b"\r\n\r\n")
    if not separator:
        raise ValueError(f"no complete response head in {data[:200]!r}")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = headers.get("content-length")
    body = rest[: int(length)] if length is not None else rest
    return RawResponse(status=int(status_line.split(" ", 2)[1]), headers=headers, body=body)


def read_until_closed(sock: socket.socket, limit: int = 1 << 20) -> bytes:
    """Everything the peer sends until it closes (or resets) the connection."""
    chunks = []
    received = 0
    while received < limit:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
        received += len(chunk)
    return b"".join(chunks)


def exchange(port: int, raw: bytes, timeout: float = 10.0) -> RawResponse:
    """Send `raw` on a fresh connection and return the answer the daemon gives before closing.

    Every request sent this way should make the daemon close the connection (a parse error
    does; well-formed requests carry `Connection: close`), so reading to the end is safe and
    the timeout only guards against a daemon that never answers.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(raw)
        return parse_response(read_until_closed(sock))


def request_bytes(
    method: str,
    target: str | bytes,
    headers: dict[str, str] | list[tuple[str, str]] | None = None,
    body: bytes = b"",
    host: str = "127.0.0.1",
) -> bytes:
    """A well-formed HTTP/1.1 request with `Connection: close` (targets may be raw bytes)."""
    pairs = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    if not any(name.lower() == "host" for name, _ in pairs):
        pairs.insert(0, ("Host", host))
    if body and not any(name.lower() == "content-length" for name, _ in pairs):
        pairs.append(("Content-Length", str(len(body))))
    pairs.append(("Connection", "close"))
    target_bytes = target if isinstance(target, bytes) else target.encode("ascii")
    head = method.encode("ascii") + b" " + target_bytes + b" HTTP/1.1\r\n"
    head += b"".join(f"{name}: {value}\r\n".encode("latin-1") for name, value in pairs)
    return head + b"\r\n" + body
