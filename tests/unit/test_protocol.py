"""The pure parts of the HTTP connection layer (vpo/server/protocol.py): which answer a parser
error gets, whom the connection cap evicts, and how the cap fits the file-descriptor limit.
The behaviour on real sockets is in tests/integration/test_http_errors.py and
test_slow_clients.py."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from aiohttp.http_exceptions import (
    BadHttpMessage,
    BadHttpMethod,
    ContentEncodingError,
    InvalidHeader,
    InvalidURLError,
    LineTooLong,
)

from vpo.server.protocol import (
    ConnectionLimits,
    VpoServer,
    describe_parse_error,
    raw_error_response,
)


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (LineTooLong(b"/aaaa...", 8190), 431, "HEADER_TOO_LARGE"),
        (BadHttpMessage("Too many headers received"), 431, "HEADER_TOO_LARGE"),
        (BadHttpMethod("BREW /x HTTP/1.1"), 400, "MALFORMED_REQUEST"),
        (
            InvalidURLError("Invalid char in url path:\n\n  b'/\\xc3'\n   ^"),
            400,
            "MALFORMED_REQUEST",
        ),
        (InvalidHeader(b"X-Evil: \x00secret"), 400, "MALFORMED_REQUEST"),
        (ContentEncodingError("Can not decode content-encoding: gzip"), 400, "MALFORMED_REQUEST"),
        (BadHttpMessage("Duplicate 'Host' header found."), 400, "MALFORMED_REQUEST"),
        (
            BadHttpMessage("Invalid header value char:\n\n  b'\\x01\\x02'\n  ^"),
            400,
            "MALFORMED_REQUEST",
        ),
    ],
)
def test_parse_errors_map_to_an_envelope_without_the_clients_bytes(
    exc: Exception, status: int, code: str
) -> None:
    answer = describe_parse_error(exc)
    assert (answer.status, answer.code) == (status, code)
    text = answer.message + json.dumps(answer.details)
    for raw in ("aaaa", "\\x", "secret", "b'"):
        assert raw not in text
    assert answer.message.endswith(".") and not answer.message.endswith("..")


def test_the_https_hint() -> None:
    answer = describe_parse_error(BadHttpMethod("\x16\x03\x01\x02\x00"))
    assert answer.details["reason"] == "TLS (https) sent to a plain HTTP port"


def test_raw_error_response_is_a_complete_json_answer() -> None:
    raw = raw_error_response(503, "TOO_MANY_CONNECTIONS", "Busy.", {"n": 1}, ("Retry-After: 5",))
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 503 Service Unavailable"
    assert "Connection: close" in lines and "Retry-After: 5" in lines
    assert f"Content-Length: {len(body)}" in lines
    assert json.loads(body) == {
        "error": "Busy.",
        "code": "TOO_MANY_CONNECTIONS",
        "details": {"n": 1},
    }


class FakeConnection:
    """Stands in for a VpoRequestHandler: only whether it is stalled matters to the cap."""

    def __init__(self, stalled: bool) -> None:
        self.is_stalled = stalled
        self.evicted = False

    def stalled(self) -> bool:
        return self.is_stalled

    def evict(self) -> None:
        self.evicted = True


def server_with_cap(cap: int) -> VpoServer:
    import asyncio

    loop = asyncio.new_event_loop()
    limits = ConnectionLimits(header_timeout=1, idle_timeout=1, max_connections=cap)
    server = VpoServer(lambda request: None, limits=limits, request_factory=None, loop=loop)
    loop.close()
    return server


def test_the_cap_evicts_the_oldest_stalled_connection_and_refuses_when_all_are_busy() -> None:
    server = server_with_cap(3)
    busy, stalled_old, stalled_new = (
        FakeConnection(False),
        FakeConnection(True),
        FakeConnection(True),
    )
    for connection in (busy, stalled_old, stalled_new):
        assert server.admit(connection)  # type: ignore[arg-type]
    newcomer = FakeConnection(False)
    assert server.admit(newcomer)  # type: ignore[arg-type]
    assert stalled_old.evicted and not stalled_new.evicted and not busy.evicted
    assert server.open_connections == 3
    server.release(stalled_old)  # its connection_lost, later: no double count
    assert server.open_connections == 3
    stalled_new.is_stalled = False
    refused = FakeConnection(False)
    assert not server.admit(refused)  # type: ignore[arg-type]
    assert server.open_connections == 3
    server.release(busy)  # type: ignore[arg-type]
    assert server.admit(refused)  # type: ignore[arg-type]


FIT_SCRIPT = """
import resource, sys
from vpo.server.protocol import fit_connection_cap
soft, hard = (int(x) for x in sys.argv[1:3])
resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
cap, warning = fit_connection_cap(int(sys.argv[3]))
print(cap, resource.getrlimit(resource.RLIMIT_NOFILE)[0], bool(warning))
"""


@pytest.mark.parametrize(
    ("soft", "hard", "wanted", "expected"),
    [
        (1024, 4096, 256, "256 1024 False"),  # enough already: nothing changes
        (300, 4096, 256, "256 384 False"),  # the soft limit is raised as far as needed
        (300, 300, 256, "172 300 True"),  # the hard limit is too low: the cap is lowered
    ],
)
def test_the_cap_fits_the_file_descriptor_limit(
    soft: int, hard: int, wanted: int, expected: str
) -> None:
    # In a child process: the limits are process-wide and this one must keep its own.
    result = subprocess.run(
        [sys.executable, "-c", FIT_SCRIPT, str(soft), str(hard), str(wanted)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.split("\n")[0] == expected
