"""The HTTP connection layer under the app: what happens before a request reaches app.py.

aiohttp's parser rejects a broken request (a request line or header over the limit, an unknown
method, raw spaces or non-ASCII bytes in the URL, a missing or duplicate Host) before any
middleware runs, and its stock protocol answers in text/plain, echoing the client's bytes and
logging a traceback. `VpoRequestHandler` answers those in the API's JSON envelope and logs one
debug line: a port scanner or a hand-typed request is not the daemon's error.

It also bounds what a slow or stalled client may hold (each connection costs memory and a file
descriptor, and nothing used to close a half-sent request):

- header timeout: a request's line and headers must arrive within it, counted from its first
  byte; else 408 and the connection is closed;
- idle timeout: a connection that sends nothing, fresh or kept alive, is closed (aiohttp's
  keep-alive timer);
- connection cap: at `max_connections`, a new connection takes the place of the oldest one that
  is stalled (waiting for its client to send a request head or the rest of a body), which is
  answered 503 and closed; when none is stalled, the new one is answered 503 and closed. So
  memory is bounded by the cap, and a flood of stalled connections cannot lock out `/health`
  or any other client.

The body timeout is a middleware in app.py, because the app is what reads bodies.

`VpoAppRunner` is aiohttp's AppRunner serving connections with this protocol. It overrides
`AppRunner._make_server`, an aiohttp internal: the integration tests (test_http_errors.py,
test_slow_clients.py) exercise every behaviour above over real sockets, so an aiohttp upgrade
that moves the hook fails them rather than silently bringing text/plain answers back.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import resource
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import (
    BadHttpMessage,
    BadHttpMethod,
    BadStatusLine,
    ContentEncodingError,
    ContentLengthError,
    HttpProcessingError,
    InvalidHeader,
    InvalidURLError,
    LineTooLong,
    TransferEncodingError,
)
from aiohttp.web_protocol import RequestHandler

from vpo.server import errors as err

log = logging.getLogger("vpo.server")

# aiohttp's own limits, stated here so the answers and the docs can name them.
MAX_LINE_BYTES = 8190  # the request line, and each header line
MAX_HEADERS = 128
# File descriptors kept free for everything but client connections: SQLite, job logs, ffprobe
# pipes, the read threads.
FD_RESERVE = 128
RETRY_AFTER_SECONDS = 5
# asyncio's transports reference themselves (their read callback is a bound method), so a closed
# connection's socket, buffers and protocol are freed only by the cyclic garbage collector, which
# runs a full collection rarely: after thousands of connections, MBs of dead connections wait
# and the allocator keeps that peak. A full collection after every so many closed connections
# keeps the peak down (it takes milliseconds; a busy dashboard closes a few connections a
# minute).
COLLECT_EVERY_CLOSED = 256


@dataclass(frozen=True)
class ConnectionLimits:
    """How long a client may take and how many may be connected (see the module docstring)."""

    header_timeout: float
    idle_timeout: float
    max_connections: int


# -- answers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParseErrorAnswer:
    status: int
    code: str
    message: str
    details: dict[str, Any]


def _first_line(text: str) -> str:
    """The description aiohttp puts first, without the raw bytes it appends below it."""
    line = text.strip().splitlines()[0] if text.strip() else "malformed request"
    line = line.rstrip(":.").strip()
    printable = "".join(ch for ch in line if ch.isprintable() and ch.isascii())
    return printable[:120] or "malformed request"


# What each parser error means, in a few words that never quote the client's bytes. Checked in
# order: the first matching class wins (subclasses come before their bases).
_REASONS: tuple[tuple[type[BaseException], str], ...] = (
    (InvalidURLError, "invalid character in the URL; percent-encode spaces and non-ASCII bytes"),
    (
        BadStatusLine,
        "malformed request line: send METHOD /path HTTP/1.1, spaces in the URL as %20",
    ),
    (InvalidHeader, "invalid header"),
    (ContentEncodingError, "the body does not decode as its Content-Encoding says"),
    (TransferEncodingError, "malformed chunked body"),
    (ContentLengthError, "the body ended before Content-Length bytes"),
)


def _reason(exc: BaseException) -> str:
    """What is wrong with the request, in a few words that never quote the client's bytes."""
    if isinstance(exc, BadHttpMethod):
        if "HTTPS" in exc.message:
            return "TLS (https) sent to a plain HTTP port"
        return "unknown HTTP method"
    for kind, reason in _REASONS:
        if isinstance(exc, kind):
            return reason
    if isinstance(exc, HttpProcessingError):
        return _first_line(exc.message)
    return "malformed request"


def describe_parse_error(exc: BaseException) -> ParseErrorAnswer:
    """The envelope for a request aiohttp's parser (or body decoder) could not accept."""
    too_many_headers = isinstance(exc, BadHttpMessage) and "Too many headers" in exc.message
    if isinstance(exc, LineTooLong) or too_many_headers:
        return ParseErrorAnswer(
            431,
            err.HEADER_TOO_LARGE,
            f"The request line or a header is longer than {MAX_LINE_BYTES} bytes, or there "
            f"are more than {MAX_HEADERS} headers.",
            {"max_line_bytes": MAX_LINE_BYTES, "max_headers": MAX_HEADERS},
        )
    reason = _reason(exc)
    return ParseErrorAnswer(
        400, err.MALFORMED_REQUEST, f"The request is not valid HTTP: {reason}.", {"reason": reason}
    )


def raw_error_response(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    extra_headers: tuple[str, ...] = (),
) -> bytes:
    """A complete `Connection: close` HTTP/1.1 answer with the envelope, as bytes.

    For the two answers given outside any request (a header timeout, the connection cap), where
    aiohttp has no request object to build a web.Response for.
    """
    body = json.dumps(err.envelope(message, code, details)).encode()
    head = [
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "Cache-Control: no-store",
        "Connection: close",
        *extra_headers,
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode("ascii") + body


# -- the protocol ----------------------------------------------------------------------------


class VpoRequestHandler(RequestHandler):
    """aiohttp's HTTP/1.1 protocol with JSON parse errors, a header timeout and the cap."""

    __slots__ = ("_admitted", "_header_timer", "_limits")

    def __init__(self, manager: VpoServer, *, limits: ConnectionLimits, **kwargs: Any) -> None:
        super().__init__(manager, keepalive_timeout=limits.idle_timeout, **kwargs)
        self._limits = limits
        self._header_timer: asyncio.TimerHandle | None = None
        self._admitted = False

    # connection cap

    def _too_many_connections(self) -> bytes:
        return raw_error_response(
            503,
            err.TOO_MANY_CONNECTIONS,
            "The daemon has too many open connections; retry shortly.",
            {"max_connections": self._limits.max_connections},
            (f"Retry-After: {RETRY_AFTER_SECONDS}",),
        )

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        server = self._manager
        assert isinstance(server, VpoServer)
        if not server.admit(self):
            log.debug("connection refused: %d connections open", self._limits.max_connections)
            transport.write(self._too_many_connections())  # type: ignore[attr-defined]
            transport.close()
            return
        self._admitted = True
        super().connection_made(transport)

    def connection_lost(self, exc: BaseException | None) -> None:
        self._cancel_header_timer()
        if not self._admitted:
            return  # refused at the cap: aiohttp never saw this connection
        self._admitted = False
        server = self._manager
        if isinstance(server, VpoServer):
            server.release(self)
        super().connection_lost(exc)

    def stalled(self) -> bool:
        """Whether the connection waits on its client: for a request head (a fresh, kept-alive or
        half-sent one), or for the rest of a body. Not while the app works on a request."""
        if self._awaiting_request():
            return True
        request = self._current_request
        return request is not None and not request.content.is_eof()

    def evict(self) -> None:
        """Make room at the cap: answer 503 and close (see `VpoServer.admit`)."""
        log.debug("closing a stalled connection to admit a new one")
        if self.transport is not None:
            self.transport.write(self._too_many_connections())
        self.force_close()

    # header timeout

    def _awaiting_request(self) -> bool:
        """Whether the connection waits for a request's head (none is queued or running)."""
        waiter = self._waiter
        return waiter is not None and not waiter.done() and not (self._force_close or self._close)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._header_timer is None:
            if data and self._awaiting_request():
                # Bytes arrived but no complete head yet: the clock starts now.
                self._header_timer = self._loop.call_later(
                    self._limits.header_timeout, self._header_timed_out
                )
        elif not self._awaiting_request():
            self._cancel_header_timer()

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timed_out(self) -> None:
        self._header_timer = None
        if not self._awaiting_request() or self.transport is None:
            return
        timeout = self._limits.header_timeout
        log.debug("closing a connection whose request head took over %g s", timeout)
        self.transport.write(
            raw_error_response(
                408,
                err.REQUEST_TIMEOUT,
                f"The request line and headers did not arrive within {timeout:g} s.",
                {"timeout_seconds": timeout},
            )
        )
        self.force_close()  # transport.close() sends what was written first

    # parse errors

    def log_exception(self, *args: Any, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info")
        if isinstance(exc, web.RequestPayloadError | HttpProcessingError | ConnectionError):
            # A body that failed to decode was already answered (400 by the app); aiohttp meets
            # the error again when it drains the rest of the body, then closes the connection.
            log.debug("dropping a connection after a request body error: %s", exc)
            return
        super().log_exception(*args, **kwargs)

    def handle_error(
        self,
        request: Any,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:
            # The answer had begun: nothing can be said any more (aiohttp does the same).
            raise ConnectionError("the response had begun; dropping the connection")
        if isinstance(exc, HttpProcessingError):
            answer = describe_parse_error(exc)
            log.debug("rejected a malformed request from %s: %s", request.remote, answer.message)
            response = err.error_response(
                answer.status, answer.code, answer.message, answer.details
            )
        else:
            # Not the client's doing: a failure outside the app's error middleware.
            self.log_exception("error handling a request from %s", request.remote, exc_info=exc)
            response = err.error_response(
                500, err.INTERNAL_ERROR, "Internal error; the daemon log has the details."
            )
        response.force_close()
        return response


class VpoServer(web.Server):
    """aiohttp's Server making `VpoRequestHandler`s, and keeping the connection cap."""

    def __init__(
        self,
        handler: Any,
        *,
        limits: ConnectionLimits,
        request_factory: Any,
        loop: asyncio.AbstractEventLoop,
        **protocol_options: Any,
    ) -> None:
        super().__init__(handler, request_factory=request_factory, loop=loop, **protocol_options)
        self.limits = limits
        # Admitted connections, oldest first (dicts keep insertion order).
        self._admitted: dict[VpoRequestHandler, None] = {}
        self._closed_since_collect = 0
        self._protocol_loop = loop
        self._protocol_options = protocol_options

    @property
    def open_connections(self) -> int:
        return len(self._admitted)

    def admit(self, handler: VpoRequestHandler) -> bool:
        """Count a new connection in; at the cap, evict the oldest stalled one to make room, or
        refuse the newcomer when every connection is busy with a request."""
        if len(self._admitted) >= self.limits.max_connections:
            victim = next((open_ for open_ in self._admitted if open_.stalled()), None)
            if victim is None:
                return False
            del self._admitted[victim]
            victim.evict()
        self._admitted[handler] = None
        return True

    def release(self, handler: VpoRequestHandler) -> None:
        self._admitted.pop(handler, None)
        self._closed_since_collect += 1
        if self._closed_since_collect >= COLLECT_EVERY_CLOSED:
            self._closed_since_collect = 0
            # Soon, not now: this runs inside asyncio's teardown of the connection.
            self._protocol_loop.call_soon(gc.collect)

    def __call__(self) -> VpoRequestHandler:
        return VpoRequestHandler(
            self, loop=self._protocol_loop, limits=self.limits, **self._protocol_options
        )


class VpoAppRunner(web.AppRunner):
    """AppRunner whose connections are served by `VpoRequestHandler` (see the module docstring)."""

    __slots__ = ("_limits",)

    def __init__(self, app: web.Application, *, limits: ConnectionLimits, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._limits = limits

    async def _make_server(self) -> web.Server:
        stock = await super()._make_server()  # runs the app's startup and freezes it
        return VpoServer(
            stock.request_handler,
            limits=self._limits,
            request_factory=stock.request_factory,
            loop=asyncio.get_running_loop(),
            max_line_size=MAX_LINE_BYTES,
            max_field_size=MAX_LINE_BYTES,
            max_headers=MAX_HEADERS,
        )


# -- file descriptors ------------------------------------------------------------------------


def fit_connection_cap(wanted: int) -> tuple[int, str | None]:
    """The connection cap this process can honour, and a warning when it is below `wanted`.

    Each connection is a file descriptor; running out of them makes accept() fail (and asyncio
    log a traceback per attempt). The soft limit is raised towards the hard one when needed
    (systemd's default soft limit is 1024); if that is not enough, the cap is lowered.
    """
    needed = wanted + FD_RESERVE
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return wanted, None
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    except (ValueError, OSError):
        pass
    if soft >= needed:
        return wanted, None
    fitted = max(1, soft - FD_RESERVE)
    return fitted, (
        f"server.max_connections {wanted} needs {needed} file descriptors but the limit is "
        f"{soft}; using {fitted} (raise LimitNOFILE / ulimit -n to allow more)"
    )
