"""The one typed HTTP client of the VPO daemon's API, shared by the CLI (sync) and the TUI (async).

Every API operation is described once as a pure `Call` (method, path, query, body, how to parse the
answer); `interpret_response` turns a status, headers and body into a typed `Result` or an error.
The two client classes only differ in how they send a `Call` (httpx.Client vs httpx.AsyncClient),
so URL building, parsing and error mapping are written (and unit tested) once, without I/O.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import quote, urlsplit

from vpo.client_errors import UNKNOWN_HOST, ApiError, DaemonUnreachable, InvalidUrl, VpoError
from vpo.client_settings import normalise_base_url
from vpo.httpx_import import httpx
from vpo.pathtext import escape_undecodable, escaped_path, is_utf8
from vpo.poll_hint import HINT_HEADER, parse_hint

T = TypeVar("T")

DEFAULT_TIMEOUT = 10.0

_FULL_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_ID_PREFIX = re.compile(r"^[0-9a-f-]{1,35}$")


# ---------------------------------------------------------------------------------------------
# Typed results


@dataclass
class Result(Generic[T]):
    """One answer to a conditional GET: `data` is None exactly when `not_modified` is True."""

    data: T | None
    etag: str | None = None
    not_modified: bool = False
    # The daemon's `X-Poll-Interval` hint in ms (vpo/poll_hint.py); None when it sent none.
    poll_interval_ms: int | None = None

    def value(self) -> T:
        """The answer's data, for a caller that sent no ETag and so must get a body.

        Raises ApiError on a 304: the daemon answers Not Modified only to a tag it was sent,
        so a caller that may get one checks `not_modified` first instead.
        """
        if self.not_modified or self.data is None:
            raise ApiError(
                304,
                "NOT_MODIFIED",
                "the daemon answered 304 Not Modified where the data itself was expected",
            )
        return self.data


@dataclass(frozen=True)
class JobPage:
    """`GET /api/jobs`. Jobs stay plain dicts so fields and job types added later pass through."""

    jobs: list[dict[str, Any]]
    total: int
    limit: int
    offset: int
    has_filters: bool


@dataclass(frozen=True)
class LogPage:
    """`GET /api/jobs/{id}/logs`: `lines` start at line `offset` of a log of `total_lines`."""

    job_id: str
    lines: list[str]
    total_lines: int
    offset: int
    has_more: bool


def _require_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ValueError("expected a JSON object")
    return body


def parse_job_page(body: Any) -> JobPage:
    obj = _require_object(body)
    jobs = obj["jobs"]
    if not isinstance(jobs, list):
        raise ValueError("'jobs' is not a list")
    return JobPage(
        jobs=[_require_object(job) for job in jobs],
        total=int(obj["total"]),
        limit=int(obj["limit"]),
        offset=int(obj["offset"]),
        has_filters=bool(obj.get("has_filters", False)),
    )


def parse_log_page(body: Any) -> LogPage:
    obj = _require_object(body)
    lines = obj["lines"]
    if not isinstance(lines, list):
        raise ValueError("'lines' is not a list")
    return LogPage(
        job_id=str(obj["job_id"]),
        lines=[str(line) for line in lines],
        total_lines=int(obj["total_lines"]),
        offset=int(obj["offset"]),
        has_more=bool(obj["has_more"]),
    )


def parse_object(body: Any) -> dict[str, Any]:
    return _require_object(body)


# ---------------------------------------------------------------------------------------------
# Calls: what to send and how to read the answer, with no I/O


@dataclass(frozen=True)
class Call(Generic[T]):
    method: str
    path: str
    parse: Callable[[Any], T]
    params: dict[str, str] = field(default_factory=dict)
    json_body: dict[str, Any] | None = None
    etag: str | None = None

    def headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self.etag:
            headers["If-None-Match"] = self.etag
        return headers


def query_params(**values: Any) -> dict[str, str]:
    """Drop unset values and spell the rest as the API expects (booleans lower case).

    A value from a command line may hold bytes that are not UTF-8 (surrogateescape); a URL
    cannot carry them, so they are sent as the text `\\xNN` instead of failing.
    """
    params: dict[str, str] = {}
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            params[name] = "true" if value else "false"
        else:
            params[name] = escape_undecodable(str(value))
    return params


def job_path(job_id: str, suffix: str = "") -> str:
    # Quoting keeps a hostile or mistyped id inside its path segment.
    return f"/api/jobs/{quote(job_id, safe='')}{suffix}"


def health_call() -> Call[dict[str, Any]]:
    # An unhealthy or stopping daemon answers 503 with the error envelope (the health fields
    # in `details`): that is an ApiError, which pollers count as a failure.
    return Call("GET", "/health", parse_object)


@dataclass(frozen=True)
class JobListParams:
    """The query of `GET /api/jobs` (docs/api.md); None leaves a parameter to the daemon."""

    status: str | None = None
    job_type: str | None = None
    since: str | None = None
    search: str | None = None
    sort: str | None = None
    order: str | None = None
    limit: int | None = None
    offset: int | None = None
    id_prefix: str | None = None

    def query(self) -> dict[str, str]:
        return query_params(
            status=self.status,
            type=self.job_type,
            since=self.since,
            search=self.search,
            sort=self.sort,
            order=self.order,
            limit=self.limit,
            offset=self.offset,
            id_prefix=self.id_prefix,
        )


ALL_JOBS = JobListParams()


def list_jobs_call(params: JobListParams = ALL_JOBS, *, etag: str | None = None) -> Call[JobPage]:
    return Call("GET", "/api/jobs", parse_job_page, params=params.query(), etag=etag)


def get_job_call(job_id: str, *, etag: str | None = None) -> Call[dict[str, Any]]:
    return Call("GET", job_path(job_id), parse_object, etag=etag)


def get_logs_call(
    job_id: str, *, lines: int = 500, offset: int = 0, etag: str | None = None
) -> Call[LogPage]:
    params = query_params(lines=lines, offset=offset)
    return Call("GET", job_path(job_id, "/logs"), parse_log_page, params=params, etag=etag)


def get_errors_call(job_id: str, *, limit: int = 50, offset: int = 0) -> Call[dict[str, Any]]:
    params = query_params(limit=limit, offset=offset)
    return Call("GET", job_path(job_id, "/errors"), parse_object, params=params)


def submit_scan_call(path: str, *, full: bool = False) -> Call[dict[str, Any]]:
    """`path` as Python holds it; a name that is not UTF-8 (surrogateescape, as os.fsdecode
    gives) is sent in the API's escaped form with `path_is_utf8: false`."""
    body: dict[str, Any] = {"job_type": "scan", "path": escaped_path(path), "full": full}
    if not is_utf8(path):
        body["path_is_utf8"] = False
    return Call("POST", "/api/jobs", parse_object, json_body=body)


def cancel_job_call(job_id: str) -> Call[dict[str, Any]]:
    return Call("POST", job_path(job_id, "/cancel"), parse_object, json_body={})


def polling_config_call() -> Call[dict[str, Any]]:
    return Call("GET", "/api/config/polling", parse_object)


def retry_job_call(job_id: str) -> Call[dict[str, Any]]:
    """`POST /api/jobs/{id}/retry`: the new job's detail (its `retry_of` is `job_id`)."""
    return Call("POST", job_path(job_id, "/retry"), parse_object, json_body={})


def stats_call(*, etag: str | None = None) -> Call[dict[str, Any]]:
    """`GET /api/stats`: `{queued, running, last_24h: {completed, failed, cancelled}}`."""
    return Call("GET", "/api/stats", parse_object, etag=etag)


def roots_call() -> Call[dict[str, Any]]:
    """`GET /api/roots`: `{restricted, roots: [{path, path_is_utf8, available}]}`."""
    return Call("GET", "/api/roots", parse_object)


def browse_call(path: str, *, limit: int | None = None, offset: int = 0) -> Call[dict[str, Any]]:
    """`GET /api/browse`: a page of the sub-directories of `path` (as Python holds it: a name
    that is not UTF-8 is sent in the escaped form with `path_is_utf8=false`)."""
    params = query_params(
        path=escaped_path(path),
        path_is_utf8=None if is_utf8(path) else False,
        limit=limit,
        offset=offset or None,
    )
    return Call("GET", "/api/browse", parse_object, params=params)


# ---------------------------------------------------------------------------------------------
# Interpreting answers


def _decode_json(body: bytes) -> Any:
    return json.loads(body.decode("utf-8"))


def _short_text(body: bytes, limit: int = 200) -> str:
    text = body.decode("utf-8", errors="replace").strip().replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def error_from_response(
    status: int, body: bytes, *, base_url: str, token_sent: bool, reason: str = ""
) -> ApiError:
    """Map an error answer to ApiError, reading the daemon's JSON envelope when there is one.

    A proxy in front of the daemon may answer with HTML or plain text; that still becomes a
    readable one-line ApiError instead of a JSON decoding crash.
    """
    if status == 401:
        if token_sent:
            message = (
                f"the VPO daemon at {base_url} rejected the token; "
                "check --token or VPO_TOKEN (server.auth_token on the daemon)"
            )
        else:
            message = (
                f"the VPO daemon at {base_url} requires a token; pass --token or set VPO_TOKEN"
            )
        return ApiError(status, "UNAUTHORIZED", message)
    try:
        envelope = _decode_json(body)
    except (ValueError, UnicodeDecodeError):
        envelope = None
    if isinstance(envelope, dict) and isinstance(envelope.get("error"), str):
        details = envelope.get("details")
        return ApiError(
            status,
            str(envelope.get("code") or f"HTTP_{status}"),
            envelope["error"],
            details if isinstance(details, dict) else None,
        )
    label = f"HTTP {status}" + (f" {reason}" if reason else "")
    text = _short_text(body)
    return ApiError(status, f"HTTP_{status}", f"{label}: {text}" if text else label)


def interpret_response(
    call: Call[T],
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    base_url: str,
    token_sent: bool = False,
    reason: str = "",
) -> Result[T]:
    """Turn one HTTP answer to `call` into a Result, or raise ApiError. Pure: no I/O."""
    etag = headers.get("etag") or headers.get("ETag")
    hint = parse_hint(headers.get(HINT_HEADER) or headers.get(HINT_HEADER.lower()))
    if status == 304:
        # A 304 may omit the tag; the one we sent is by definition still current.
        return Result(data=None, etag=etag or call.etag, not_modified=True, poll_interval_ms=hint)
    if not 200 <= status < 300:
        raise error_from_response(
            status, body, base_url=base_url, token_sent=token_sent, reason=reason
        )
    try:
        data = call.parse(_decode_json(body))
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise ApiError(
            status,
            "INVALID_RESPONSE",
            f"unexpected answer from {base_url}{call.path} (HTTP {status}): {exc}",
        ) from exc
    return Result(data=data, etag=etag, not_modified=False, poll_interval_ms=hint)


def describe_transport_error(exc: Exception, timeout: float) -> str:
    """A short human reason for a failed request, for DaemonUnreachable's message."""
    if isinstance(exc, httpx.TimeoutException):
        return f"no answer within {timeout:g} s"
    # The asyncio transport wraps the OS error ("All connection attempts failed"), so look
    # down the exception chain for the refusal the user can act on.
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, socket.gaierror):
            return UNKNOWN_HOST  # any failed name lookup, "temporary" ones included
        cause = cause.__cause__ or cause.__context__
    text = str(exc).lower()
    if "refused" in text:
        return "connection refused"
    if any(
        words in text
        for words in (
            "name or service not known",
            "nodename nor servname",
            "temporary failure in name resolution",
            "no address associated with hostname",
        )
    ):
        return UNKNOWN_HOST
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the connection was closed without an answer"
    return str(exc) or type(exc).__name__


# ---------------------------------------------------------------------------------------------
# Job id resolution (short ids)


def normalise_job_ref(id_or_prefix: str) -> str:
    """Lower-case and validate a job id or id prefix; raise ApiError naming the bad input."""
    ref = id_or_prefix.strip().lower()
    if _FULL_UUID.match(ref) or _ID_PREFIX.match(ref):
        return ref
    raise ApiError(
        400,
        "INVALID_ID_FORMAT",
        f"'{id_or_prefix}' is not a job id (expected a UUID or the start of one, e.g. 1a2b3c4d)",
        {"id": id_or_prefix},
    )


def is_full_job_id(ref: str) -> bool:
    return bool(_FULL_UUID.match(ref))


def prefix_lookup_call(prefix: str) -> Call[JobPage]:
    # Two rows are enough to tell "exactly one" from "several"; `total` gives the count.
    return list_jobs_call(JobListParams(id_prefix=prefix, limit=2))


def choose_prefix_match(prefix: str, page: JobPage) -> str:
    if page.total == 1 and page.jobs:
        return str(page.jobs[0]["id"])
    if page.total == 0:
        raise ApiError(404, "NOT_FOUND", f"no job matches '{prefix}'", {"id_prefix": prefix})
    raise ApiError(
        400,
        "AMBIGUOUS_ID",
        f"'{prefix}' is ambiguous, matches {page.total} jobs; give more characters",
        {"id_prefix": prefix, "matches": page.total},
    )


# ---------------------------------------------------------------------------------------------
# The clients


class _ClientBase:
    _http: httpx.Client | httpx.AsyncClient

    def __init__(self, base_url: str, token: str | None, timeout: float) -> None:
        self.base_url = normalise_base_url(base_url)
        self.token = token or None
        self.timeout = timeout

    def set_token(self, token: str | None) -> None:
        """Use another token from the next request on (the user fixed a refused one)."""
        self.token = token or None
        if self.token:
            self._http.headers["Authorization"] = f"Bearer {self.token}"
        else:
            self._http.headers.pop("Authorization", None)

    def _transport_options(
        self, transport_class: type[httpx.HTTPTransport] | type[httpx.AsyncHTTPTransport]
    ) -> dict[str, Any]:
        """No CA bundle loaded for a daemon reached over plain http.

        httpx's default transport loads the CA bundle into a TLS context (about 40 ms, a tenth
        of vpo-tui's start-up) that an http:// daemon URL never uses: every request goes to a
        path under that URL and redirects are not followed. Such a client gets a transport whose
        TLS context trusts nothing, so if TLS ever were attempted through it, it would fail
        rather than go unverified. https:// URLs keep httpx's verifying default, and proxies
        taken from the environment keep theirs (httpx builds their transports apart).
        """
        if urlsplit(self.base_url).scheme != "http":
            return {}
        return {"transport": transport_class(verify=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))}

    def _default_headers(self) -> dict[str, str]:
        headers = {"User-Agent": "vpo-client"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def _interpret(self, call: Call[T], response: httpx.Response) -> Result[T]:
        return interpret_response(
            call,
            response.status_code,
            response.headers,
            response.content,
            base_url=self.base_url,
            token_sent=self.token is not None,
            reason=response.reason_phrase,
        )

    def _unreachable(self, exc: Exception) -> DaemonUnreachable:
        return DaemonUnreachable(self.base_url, describe_transport_error(exc, self.timeout))


class VpoClient(_ClientBase):
    """Blocking client, for the CLI. Use as a context manager or call close()."""

    def __init__(
        self, base_url: str, token: str | None = None, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        super().__init__(base_url, token, timeout)
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=self._default_headers(),
            timeout=timeout,
            **self._transport_options(httpx.HTTPTransport),
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> VpoClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def execute(self, call: Call[T]) -> Result[T]:
        try:
            response = self._http.request(
                call.method,
                call.path,
                params=call.params,
                json=call.json_body,
                headers=call.headers(),
            )
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc
        return self._interpret(call, response)

    def health(self) -> dict[str, Any]:
        return self.execute(health_call()).value()

    def list_jobs(
        self, params: JobListParams = ALL_JOBS, *, etag: str | None = None
    ) -> Result[JobPage]:
        return self.execute(list_jobs_call(params, etag=etag))

    def get_job(self, job_id: str, *, etag: str | None = None) -> Result[dict[str, Any]]:
        return self.execute(get_job_call(job_id, etag=etag))

    def get_logs(
        self, job_id: str, *, lines: int = 500, offset: int = 0, etag: str | None = None
    ) -> Result[LogPage]:
        return self.execute(get_logs_call(job_id, lines=lines, offset=offset, etag=etag))

    def get_errors(self, job_id: str, *, limit: int = 50, offset: int = 0) -> dict[str, Any]:
        return self.execute(get_errors_call(job_id, limit=limit, offset=offset)).value()

    def submit_scan(self, path: str, *, full: bool = False) -> dict[str, Any]:
        return self.execute(submit_scan_call(path, full=full)).value()

    def cancel_job(self, job_id: str) -> dict[str, Any]:
        return self.execute(cancel_job_call(job_id)).value()

    def polling_config(self) -> dict[str, Any]:
        return self.execute(polling_config_call()).value()

    def retry_job(self, job_id: str) -> dict[str, Any]:
        return self.execute(retry_job_call(job_id)).value()

    def stats(self, *, etag: str | None = None) -> Result[dict[str, Any]]:
        return self.execute(stats_call(etag=etag))

    def roots(self) -> dict[str, Any]:
        return self.execute(roots_call()).value()

    def browse(self, path: str, *, limit: int | None = None, offset: int = 0) -> dict[str, Any]:
        return self.execute(browse_call(path, limit=limit, offset=offset)).value()

    def resolve_job_id(self, id_or_prefix: str) -> str:
        ref = normalise_job_ref(id_or_prefix)
        if is_full_job_id(ref):
            return ref
        return choose_prefix_match(ref, self.execute(prefix_lookup_call(ref)).value())


class AsyncVpoClient(_ClientBase):
    """Asyncio client, for the TUI: the same methods as VpoClient, awaited."""

    def __init__(
        self, base_url: str, token: str | None = None, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        super().__init__(base_url, token, timeout)
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers=self._default_headers(),
            timeout=timeout,
            **self._transport_options(httpx.AsyncHTTPTransport),
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncVpoClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def execute(self, call: Call[T]) -> Result[T]:
        try:
            response = await self._http.request(
                call.method,
                call.path,
                params=call.params,
                json=call.json_body,
                headers=call.headers(),
            )
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc
        return self._interpret(call, response)

    async def health(self) -> dict[str, Any]:
        return (await self.execute(health_call())).value()

    async def list_jobs(
        self, params: JobListParams = ALL_JOBS, *, etag: str | None = None
    ) -> Result[JobPage]:
        return await self.execute(list_jobs_call(params, etag=etag))

    async def get_job(self, job_id: str, *, etag: str | None = None) -> Result[dict[str, Any]]:
        return await self.execute(get_job_call(job_id, etag=etag))

    async def get_logs(
        self, job_id: str, *, lines: int = 500, offset: int = 0, etag: str | None = None
    ) -> Result[LogPage]:
        return await self.execute(get_logs_call(job_id, lines=lines, offset=offset, etag=etag))

    async def get_errors(self, job_id: str, *, limit: int = 50, offset: int = 0) -> dict[str, Any]:
        return (await self.execute(get_errors_call(job_id, limit=limit, offset=offset))).value()

    async def submit_scan(self, path: str, *, full: bool = False) -> dict[str, Any]:
        return (await self.execute(submit_scan_call(path, full=full))).value()

    async def cancel_job(self, job_id: str) -> dict[str, Any]:
        return (await self.execute(cancel_job_call(job_id))).value()

    async def polling_config(self) -> dict[str, Any]:
        return (await self.execute(polling_config_call())).value()

    async def retry_job(self, job_id: str) -> dict[str, Any]:
        return (await self.execute(retry_job_call(job_id))).value()

    async def stats(self, *, etag: str | None = None) -> Result[dict[str, Any]]:
        return await self.execute(stats_call(etag=etag))

    async def roots(self) -> dict[str, Any]:
        return (await self.execute(roots_call())).value()

    async def browse(
        self, path: str, *, limit: int | None = None, offset: int = 0
    ) -> dict[str, Any]:
        return (await self.execute(browse_call(path, limit=limit, offset=offset))).value()

    async def resolve_job_id(self, id_or_prefix: str) -> str:
        ref = normalise_job_ref(id_or_prefix)
        if is_full_job_id(ref):
            return ref
        return choose_prefix_match(ref, (await self.execute(prefix_lookup_call(ref))).value())


__all__ = [
    "ApiError",
    "AsyncVpoClient",
    "Call",
    "DaemonUnreachable",
    "InvalidUrl",
    "JobListParams",
    "JobPage",
    "LogPage",
    "Result",
    "VpoClient",
    "VpoError",
]
