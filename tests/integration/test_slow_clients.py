"""Slow, stalled and too many clients cannot pin the daemon's connections or memory.

A real daemon with short timeouts (configurable for exactly this reason: the defaults are
10 s, 30 s and 75 s), and real sockets that send half a request and then nothing.
"""

from __future__ import annotations

import resource
import socket
import time
from pathlib import Path

import httpx
import pytest

from tests.support.daemon import DaemonProcess, wait_until
from tests.support.rawhttp import parse_response, read_until_closed

HEAD_ONLY = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
HALF_BODY = (
    b"POST /api/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b'Content-Length: 1000\r\n\r\n{"job_type": "scan", "path": "/'
)
HEALTH = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def slow_daemon(daemon_factory, **server: object) -> DaemonProcess:
    settings = {
        "header_timeout_seconds": 1,
        "body_timeout_seconds": 1,
        "idle_timeout_seconds": 30,
        **server,
    }
    return daemon_factory(config={"server": settings}).start()


def connect(port: int, timeout: float = 15.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


def test_a_stalled_request_head_gets_408_and_is_closed(daemon_factory) -> None:
    daemon = slow_daemon(daemon_factory)
    with connect(daemon.port) as sock:
        sock.sendall(HEAD_ONLY)
        response = parse_response(read_until_closed(sock))
    assert response.status == 408
    assert response.json()["code"] == "REQUEST_TIMEOUT"
    assert response.headers["connection"] == "close"


def test_a_stalled_body_gets_408_and_is_closed(daemon_factory) -> None:
    daemon = slow_daemon(daemon_factory)
    with connect(daemon.port) as sock:
        sock.sendall(HALF_BODY)
        response = parse_response(read_until_closed(sock))
    assert response.status == 408
    body = response.json()
    assert body["code"] == "REQUEST_TIMEOUT" and body["details"] == {"timeout_seconds": 1}
    assert "Traceback" not in daemon.stderr_text()


def test_an_idle_connection_is_closed(daemon_factory) -> None:
    daemon = slow_daemon(daemon_factory, idle_timeout_seconds=1)
    with connect(daemon.port) as sock:
        # Nothing sent at all: no answer is owed, the connection is just closed.
        assert read_until_closed(sock) == b""
    with connect(daemon.port) as sock:
        sock.sendall(HEALTH)  # a kept-alive connection after one request, likewise
        assert parse_response(read_until_closed(sock)).status == 200


def keep_alive_health(sock: socket.socket) -> int:
    """One request on a kept-alive connection; returns the status once its body is in."""
    sock.sendall(HEALTH)
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    response = parse_response(data)
    while len(response.body) < int(response.headers["content-length"]):
        data += sock.recv(65536)
        response = parse_response(data)
    return response.status


def test_at_the_cap_the_oldest_stalled_connection_makes_room(daemon_factory) -> None:
    daemon = slow_daemon(daemon_factory, max_connections=5)
    held = [connect(daemon.port) for _ in range(5)]
    try:
        # A full exchange on each proves the daemon has accepted (and counted) all five; they
        # are now idle, kept alive: stalled, from the daemon's point of view.
        assert [keep_alive_health(sock) for sock in held] == [200] * 5
        with httpx.Client(base_url=daemon.url, timeout=5) as http:
            assert http.get("/health").status_code == 200  # a sixth client is served...
        evicted = parse_response(read_until_closed(held[0]))  # ...in the oldest one's place
        assert evicted.status == 503
        assert evicted.json()["code"] == "TOO_MANY_CONNECTIONS"
        assert evicted.json()["details"] == {"max_connections": 5}
        assert evicted.headers["retry-after"] == "5"
        # The others were left alone.
        assert [keep_alive_health(sock) for sock in held[1:]] == [200] * 4
    finally:
        for sock in held:
            sock.close()
    assert "Traceback" not in daemon.stderr_text()


# -- the flood -------------------------------------------------------------------------------

FLOOD = 3000
HOLD_SECONDS = 30.0
RSS_SLACK_KB = 10 * 1024


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def open_fds(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/fd").iterdir()))


def closed_by_peer(sock: socket.socket) -> bool:
    """Whether the daemon has closed this connection (any answer it sent is read and dropped)."""
    sock.setblocking(False)
    while True:
        try:
            if not sock.recv(65536):
                return True
        except BlockingIOError:
            return False  # nothing to read and no end of stream: still open
        except (ConnectionResetError, BrokenPipeError):
            return True


def raise_own_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_thousands_of_half_sent_requests_are_shed(daemon_factory) -> None:
    raise_own_fd_limit(FLOOD + 256)
    # Far more stalled clients than the default cap (256): the cap bounds what they can hold,
    # the timeouts close what the cap let in.
    daemon = slow_daemon(
        daemon_factory, header_timeout_seconds=2, body_timeout_seconds=2, idle_timeout_seconds=5
    )
    pid = daemon.pid
    with httpx.Client(base_url=daemon.url, timeout=10) as http:
        for _ in range(20):  # warm up: code paths, caches and the read threads exist
            assert http.get("/health").status_code == 200
        baseline_rss, baseline_fds = rss_kb(pid), open_fds(pid)

        sockets: list[socket.socket] = []
        try:
            for index in range(FLOOD):
                sock = connect(daemon.port)
                # Half stall in their request head, half in their body.
                sock.sendall(HEAD_ONLY if index % 2 else HALF_BODY)
                sockets.append(sock)
            peak_rss = rss_kb(pid)

            # Hold every socket open from this side for the whole period, and keep asking.
            held_until = time.monotonic() + HOLD_SECONDS
            while time.monotonic() < held_until:
                assert http.get("/health").status_code == 200
                time.sleep(1.0)

            still_open = [sock for sock in sockets if not closed_by_peer(sock)]
            assert not still_open, f"{len(still_open)} of {FLOOD} connections still open"
        finally:
            for sock in sockets:
                sock.close()

        assert http.get("/health").status_code == 200
        wait_until(
            lambda: open_fds(pid) <= baseline_fds + 5,
            timeout=30,
            message=f"fds stay above the baseline {baseline_fds}: {open_fds(pid)}",
        )
        settled_rss = wait_until(
            lambda: (rss := rss_kb(pid)) <= baseline_rss + RSS_SLACK_KB and rss,
            timeout=30,
            message=f"RSS stayed at {rss_kb(pid)} kB, started at {baseline_rss} kB",
        )
    print(f"RSS kB: baseline {baseline_rss}, after the flood {peak_rss}, settled {settled_rss}")
    assert "Traceback" not in daemon.stderr_text()
