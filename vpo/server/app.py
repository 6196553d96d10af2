"""The aiohttp application and the `vpo serve` process around it.

`create_app` builds the app (middlewares, API routes, the web pages of `web.py`); `serve` runs the
daemon: opens the store, recovers orphaned jobs, starts the worker and the HTTP server, prunes old
jobs daily, and on SIGTERM/SIGINT shuts down in order (503 for new requests, the running job
finished or requeued, exit 0 within 10 s).

One middleware (`request_middleware`) runs these, in this order, around every handler:
- errors: every failure becomes the JSON envelope; no traceback ever reaches a client.
- shutdown: 503 SHUTTING_DOWN once shutdown began (also for /health, so load balancers and
  supervisors see it).
- auth: with a token, every route but /health needs Bearer or Basic (token as password).
- request guard: Host must name this daemon when it runs without a token (DNS rebinding), POSTs
  must be application/json (when they carry a body) and same-origin when an Origin header is
  present (CSRF). Requests to no route, or with a method the route lacks, skip to their 404/405.
- body deadline: the whole body must arrive within `server.body_timeout_seconds` (else 408).

Below the app, `protocol.py` answers what aiohttp's parser rejects, times out request heads and
caps the number of open connections.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import functools
import hmac
import ipaddress
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from vpo import __version__
from vpo.config import Settings, token_weakness
from vpo.jobs import utc_now
from vpo.server import STATE, ServerState
from vpo.server import errors as err
from vpo.server.api import routes as api_routes
from vpo.server.etag import ResponseCache
from vpo.server.protocol import (
    ConnectionLimits,
    VpoAppRunner,
    describe_parse_error,
    fit_connection_cap,
)
from vpo.server.web import setup_web
from vpo.store import JobStore, StoreError
from vpo.worker import Worker, recover_orphans

log = logging.getLogger("vpo.server")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

MAX_BODY_BYTES = 64 * 1024
SHUTDOWN_GRACE_SECONDS = 3.0  # the running job may finish within this, else it is requeued
HTTP_SHUTDOWN_TIMEOUT = 1.5  # in-flight requests get this long after the listener closes
RETENTION_INTERVAL = timedelta(days=1)
REALM = 'Basic realm="vpo", charset="UTF-8"'
OPEN_PATHS = frozenset({"/health"})


# -- middlewares -----------------------------------------------------------------------------


def error_answer(request: web.Request, exc: Exception) -> web.StreamResponse:
    """The envelope answering `exc`; re-raises what is not an error (a redirect)."""
    if isinstance(exc, err.ApiError):
        return err.response_for(exc)
    if isinstance(exc, web.HTTPException):
        if exc.status < 400:
            raise exc
        headers = {}
        if exc.status == 405:
            headers["Allow"] = exc.headers.get("Allow", "")
        code = err.CODE_FOR_STATUS.get(exc.status, err.HTTP_ERROR)
        message = err.MESSAGE_FOR_STATUS.get(exc.status) or exc.reason or "Request failed."
        details: dict[str, Any] = {"path": request.path} if exc.status == 404 else {}
        if exc.status == 405:
            details = {"method": request.method, "allowed": sorted(exc.allowed_methods)}  # type: ignore[attr-defined]
        return err.error_response(exc.status, code, message, details, headers)
    log.exception("unhandled error in %s %s", request.method, request.path, exc_info=exc)
    return err.error_response(
        500, err.INTERNAL_ERROR, "Internal error; the daemon log has the details."
    )


def refuse_when_shutting_down(state: ServerState) -> None:
    if state.shutting_down:
        raise err.ApiError(
            503,
            err.SHUTTING_DOWN,
            "The daemon is shutting down.",
            headers={"Retry-After": "10", "Connection": "close"},
        )


def token_from_authorization(header: str | None) -> str | None:
    """The token a request presents: `Bearer <token>`, or Basic with the token as password."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    scheme = scheme.lower()
    value = value.strip()
    if scheme == "bearer":
        return value or None
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        _, sep, password = decoded.partition(":")
        return password if sep else None
    return None


def token_matches(presented: str | None, expected: str) -> bool:
    # Constant time whatever the input, so the comparison leaks nothing about the token.
    candidate = (presented or "").encode("utf-8")
    return hmac.compare_digest(candidate, expected.encode("utf-8")) and presented is not None


def check_token(request: web.Request, token: str) -> None:
    """With a token, every route but /health needs Bearer or Basic."""
    if request.path in OPEN_PATHS:
        return
    presented = token_from_authorization(request.headers.get("Authorization"))
    if not token_matches(presented, token):
        raise err.ApiError(
            401,
            err.UNAUTHORIZED,
            "A token is required: send 'Authorization: Bearer <token>' "
            "(or HTTP Basic with the token as password).",
            headers={"WWW-Authenticate": REALM},
        )


def _is_loopback_host(host: str) -> bool:
    name = host.lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


def _host_name(host_header: str) -> str:
    if host_header.startswith("["):  # [::1]:8321
        return host_header[1 : host_header.find("]")] if "]" in host_header else host_header
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


@functools.lru_cache(maxsize=256)
def foreign_host(host_header: str, bind: str) -> str | None:
    """The host a `Host` header names when that is not this daemon (loopback or the bind
    address), else None. Remembered: every poll sends the same header, and parsing it as an
    address each time was a tenth of a 304's time."""
    host = _host_name(host_header)
    if host and not _is_loopback_host(host) and host != bind:
        return host
    return None


def same_site_origin(origin: str, host: str) -> bool:
    """Whether a browser's `Origin` names the host the request was sent to.

    The scheme is not compared: behind a TLS reverse proxy the browser says `https://nas.lan`
    while the daemon itself is spoken to in plain HTTP, and a page on another host still fails.
    """
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host.lower()


def _routed(request: web.Request) -> bool:
    """Whether a route takes this path and method; if not, the handler answers 404 or 405."""
    return request.match_info.http_exception is None


def guard_request(request: web.Request, settings: Settings) -> None:
    """Host must name this daemon when it runs without a token; POSTs must be JSON and
    same-origin."""
    if not settings.auth_token:
        # Without a token the daemon trusts loopback; a web page on another site must not reach
        # it by pointing its own domain at 127.0.0.1 (DNS rebinding), so the Host must be local.
        host = foreign_host(request.headers.get("Host", ""), settings.bind)
        if host is not None:
            raise err.ApiError(
                403, err.FORBIDDEN, f"Host '{host}' is not this daemon.", {"host": host}
            )
    if request.method == "POST" and _routed(request):
        origin = request.headers.get("Origin")
        if origin is not None and not same_site_origin(origin, request.host):
            raise err.ApiError(
                403,
                err.FORBIDDEN,
                "Cross-origin requests may not change anything.",
                {"origin": origin},
            )
        # A POST without a body or a Content-Type (cancel's body is optional) has nothing to
        # check; a form always sends its Content-Type, so it is still refused.
        has_content = request.body_exists or "Content-Type" in request.headers
        if has_content and request.content_type != "application/json":
            raise err.ApiError(
                415,
                err.UNSUPPORTED_MEDIA_TYPE,
                "POST bodies must be JSON: send 'Content-Type: application/json'.",
                {"content_type": request.headers.get("Content-Type", "")},
            )


async def read_body_within(request: web.Request, timeout: float) -> None:
    """Read the body, whole, within the body timeout, before the handler runs.

    A client that sends its head and then stalls (or trickles) its body would otherwise hold a
    handler, a connection and their memory for as long as it likes. Read here, the body is
    kept by aiohttp, so the handler's own `request.read()` returns it at once.
    """
    try:
        async with asyncio.timeout(timeout):
            await request.read()
    except TimeoutError:
        raise err.ApiError(
            408,
            err.REQUEST_TIMEOUT,
            f"The request body did not arrive within {timeout:g} s.",
            {"timeout_seconds": timeout},
            headers={"Connection": "close"},
        ) from None
    except (web.RequestPayloadError, ConnectionError) as exc:
        # An undecodable Content-Encoding, a broken chunk, or a client gone mid-body (that
        # answer is never read, but it must not become a 500 with a traceback).
        answer = describe_parse_error(exc.__cause__ or exc)
        raise err.ApiError(
            answer.status,
            answer.code,
            answer.message,
            answer.details,
            headers={"Connection": "close"},
        ) from None


@web.middleware
async def request_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every request: the checks, in order (shutdown, token, request guard, body deadline),
    then the handler; any failure on the way becomes the error envelope.

    One middleware calling plain functions rather than one middleware each: every layer is a
    coroutine per request, and five of them cost as much as the rest of a 304.
    """
    try:
        state = request.app[STATE]
        refuse_when_shutting_down(state)
        settings = state.settings
        if settings.auth_token:
            check_token(request, settings.auth_token)
        guard_request(request, settings)
        if request.body_exists:
            await read_body_within(request, settings.body_timeout_seconds)
        return await handler(request)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        return error_answer(request, exc)


# -- the app ---------------------------------------------------------------------------------


def create_app(state: ServerState) -> web.Application:
    """The aiohttp application around `state` (no listening, no worker: see `serve`)."""
    app = web.Application(
        middlewares=[request_middleware],
        client_max_size=MAX_BODY_BYTES,
    )
    app[STATE] = state
    app.add_routes(api_routes)
    setup_web(app)

    async def close_executor(app: web.Application) -> None:
        app[STATE].executor.shutdown(wait=False, cancel_futures=True)
        app[STATE].build_executor.shutdown(wait=False, cancel_futures=True)

    app.on_cleanup.append(close_executor)
    return app


# -- logging ---------------------------------------------------------------------------------


class JsonLineFormatter(logging.Formatter):
    """One JSON object per line, for log collectors (journald, Loki...)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def configure_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonLineFormatter())
    else:
        formatter = logging.Formatter(
            "%(asctime)s.%(msecs)03dZ %(levelname)-7s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S"
        )
        handler.setFormatter(formatter)
    handler.formatter.converter = time.gmtime  # type: ignore[union-attr]
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # One line per request is noise at info level with pollers every few seconds.
    logging.getLogger("aiohttp.access").setLevel(
        logging.DEBUG if level == "debug" else logging.WARNING
    )


# -- the daemon ------------------------------------------------------------------------------


def startup_refusal(settings: Settings) -> str | None:
    """Why the daemon must not start as configured (one line), or None."""
    if settings.is_loopback:
        return None
    if not settings.auth_token:
        return (
            f"refusing to listen on {settings.bind} without an auth token: set server.auth_token "
            "(or VPO_AUTH_TOKEN) to a secret of at least 16 characters, or bind 127.0.0.1"
        )
    weakness = token_weakness(settings.auth_token)
    if weakness:
        return f"refusing to listen on {settings.bind}: {weakness}; use a longer secret"
    return None


async def _retention_loop(state: ServerState, retention_days: int) -> None:
    """Prune terminal jobs older than the retention (and their logs) now and once a day."""
    while True:
        cutoff = utc_now() - timedelta(days=retention_days)
        try:
            pruned = await state.run_blocking(state.store.prune_jobs, cutoff)
            if pruned:
                log.info(
                    "retention: pruned %d jobs older than %d days", len(pruned), retention_days
                )
        except Exception:
            log.exception("retention: pruning failed; will retry tomorrow")
        await asyncio.sleep(RETENTION_INTERVAL.total_seconds())


async def run_daemon(settings: Settings) -> int:
    """Run until SIGTERM/SIGINT; returns the process exit code."""
    loop = asyncio.get_running_loop()
    try:
        store = JobStore(settings.data_dir)
    except (StoreError, OSError) as exc:
        log.error("cannot open the data dir %s: %s", settings.data_dir, exc)
        return 1
    recover_orphans(store)
    worker = Worker(
        store, probe_concurrency=settings.probe_concurrency, extensions=settings.extensions
    )
    state = ServerState(
        store=store,
        worker=worker,
        settings=settings,
        version=__version__,
        cache=ResponseCache(settings.response_cache_mb * 1024 * 1024),
    )
    app = create_app(state)
    max_connections, fd_warning = fit_connection_cap(settings.max_connections)
    if fd_warning:
        log.warning("%s", fd_warning)
    limits = ConnectionLimits(
        header_timeout=settings.header_timeout_seconds,
        idle_timeout=settings.idle_timeout_seconds,
        max_connections=max_connections,
    )
    runner = VpoAppRunner(
        app, limits=limits, handle_signals=False, shutdown_timeout=HTTP_SHUTDOWN_TIMEOUT
    )
    await runner.setup()
    site = web.TCPSite(runner, settings.bind, settings.port, reuse_address=True)
    try:
        await site.start()
    except OSError as exc:
        log.error("cannot listen on %s:%s: %s", settings.bind, settings.port, exc.strerror or exc)
        await runner.cleanup()
        store.close()
        return 1

    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    worker.start()
    retention = (
        asyncio.create_task(_retention_loop(state, settings.retention_days))
        if settings.retention_days > 0
        else None
    )
    log.info(
        "vpo %s serving http://%s:%s (data dir %s, auth %s)",
        __version__,
        settings.bind,
        settings.port,
        settings.data_dir,
        "on" if settings.auth_token else "off",
    )

    await stop.wait()
    log.info("shutting down")
    state.shutting_down = True
    if retention is not None:
        retention.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await retention
    # Blocking join of the worker thread: in a plain thread, the loop keeps answering 503s.
    await loop.run_in_executor(None, worker.stop, SHUTDOWN_GRACE_SECONDS)
    await runner.cleanup()
    if worker.is_alive():
        # A file operation that never returns (a hung network mount) must not keep the process
        # past its 10 s; the job was requeued by worker.stop and SQLite's WAL is crash safe.
        log.warning("the worker thread did not stop; exiting without waiting for it")
        logging.shutdown()
        os._exit(0)
    store.close()
    log.info("stopped")
    return 0


def serve(settings: Settings, warnings: Sequence[str] = ()) -> int:
    """`vpo serve`: configure logging, refuse unsafe binds, run the daemon; the exit code."""
    configure_logging(settings.log_level, settings.log_format)
    refusal = startup_refusal(settings)
    if refusal:
        print(f"vpo serve: {refusal}", file=sys.stderr)
        return 2
    for warning in warnings:
        log.warning("%s", warning)
    return asyncio.run(run_daemon(settings))
