"""Query-parameter parsing for the API: raw parameters in, a validated value or a QueryError out.

Pure (no aiohttp, no sqlite3 of its own): handlers pass the raw (name, value) pairs, so the rules
are tested with plain values. Every rejection names the parameter, because the clients (curl
scripts above all) need to know which part of their URL is wrong. Unknown and repeated parameters
are rejected rather than ignored: a typo such as `stauts=failed` silently returning every job is
the kind of wrong answer a script never notices.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from vpo.jobs import STATUSES, JobQuery
from vpo.pathtext import path_from_escaped

SORT_FIELDS = ("created_at", "job_type", "status", "file_path", "duration")
ORDERS = ("asc", "desc")
DEFAULT_LIMIT = 50
MAX_LIMIT = 100
# Offsets beyond this cannot address a real row and would overflow SQLite's integer in tests
# that fuzz the API; they are rejected instead of being passed on.
MAX_OFFSET = 1_000_000_000
MAX_SEARCH_LENGTH = 500
LOG_DEFAULT_LINES = 500
LOG_MAX_LINES = 1000
ERRORS_DEFAULT_LIMIT = 50
ERRORS_MAX_LIMIT = 100
BROWSE_DEFAULT_LIMIT = 100
BROWSE_MAX_LIMIT = 1000

JOB_LIST_PARAMETERS = (
    "status",
    "type",
    "since",
    "search",
    "sort",
    "order",
    "limit",
    "offset",
    "id_prefix",
)
LOG_PARAMETERS = ("lines", "offset")
ERRORS_PARAMETERS = ("limit", "offset")
BROWSE_PARAMETERS = ("path", "path_is_utf8", "limit", "offset")

# Ten years is far beyond any retention setting; larger windows are a typo, not a wish. The
# pattern accepts exactly 1h-87600h and 1d-3650d, so the OpenAPI document can publish it as is
# and a client validating against the document agrees with the server on every value.
MAX_SINCE_DAYS = 3650
_HOURS_UP_TO_87600 = r"[1-9][0-9]{0,3}|[1-7][0-9]{4}|8[0-6][0-9]{3}|87[0-5][0-9]{2}|87600"
_DAYS_UP_TO_3650 = r"[1-9][0-9]{0,2}|[12][0-9]{3}|3[0-5][0-9]{2}|36[0-4][0-9]|3650"
SINCE_PATTERN = f"^(?:(?:{_HOURS_UP_TO_87600})h|(?:{_DAYS_UP_TO_3650})d)$"
_SINCE = re.compile(SINCE_PATTERN)
_SINCE_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1)}
# Request bodies here are flat objects; deeper nesting is an attack on the recursive decoder
# (3,000 `[` overflow Python's stack), not a request.
MAX_JSON_DEPTH = 32
_JSON_STRUCTURE = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')
_JOB_TYPE = re.compile(r"[a-z][a-z0-9_-]{0,31}")
_ID_PREFIX = re.compile(r"[0-9a-f-]{1,36}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_DIGITS = re.compile(r"[0-9]{1,12}")


class QueryError(ValueError):
    """A request parameter is unknown, repeated or has a bad value; `parameter` names it."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.message = message


@dataclass(frozen=True)
class PageQuery:
    """`limit`/`offset` (or `lines`/`offset` for logs), validated."""

    limit: int
    offset: int


def _single_values(pairs: Iterable[tuple[str, str]], allowed: Iterable[str]) -> dict[str, str]:
    """One value per known parameter; unknown or repeated names raise. An empty value is a bad
    value like any other (checked by the caller), except where a parser says otherwise."""
    allowed_set = set(allowed)
    values: dict[str, str] = {}
    seen: set[str] = set()
    for name, value in pairs:
        if name not in allowed_set:
            known = ", ".join(sorted(allowed_set))
            raise QueryError(name, f"Unknown parameter '{name}'. Known parameters: {known}.")
        if name in seen:
            raise QueryError(name, f"Parameter '{name}' was given more than once.")
        seen.add(name)
        values[name] = value
    return values


def _integer(values: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = values.get(name)
    if raw is None:
        return default
    if not _DIGITS.fullmatch(raw) or not low <= int(raw) <= high:
        raise QueryError(name, f"'{name}' must be a whole number from {low} to {high}.")
    return int(raw)


def _choice(
    values: Mapping[str, str], name: str, choices: tuple[str, ...], default: str | None
) -> str | None:
    raw = values.get(name)
    if raw is None:
        return default
    if raw not in choices:
        raise QueryError(name, f"'{name}' must be one of: {', '.join(choices)}.")
    return raw


def parse_since(raw: str, now: datetime) -> datetime:
    """`24h`, `7d`, `30d` (any whole number of hours or days) -> the moment that far before now."""
    if _SINCE.fullmatch(raw) is None:
        raise QueryError(
            "since",
            "'since' must be a whole number of hours or days, such as 24h or 7d, "
            f"of at most {MAX_SINCE_DAYS}d ({MAX_SINCE_DAYS * 24}h).",
        )
    return now - int(raw[:-1]) * _SINCE_UNITS[raw[-1]]


def parse_job_query(pairs: Iterable[tuple[str, str]], now: datetime) -> JobQuery:
    """Parameters of `GET /api/jobs` -> a JobQuery for `JobStore.list_jobs`.

    `now` is passed in (not read here) so `since` is computed from the same instant the response
    is built for, and so tests can use fixed values. The result is hashable and equal for
    requests that mean the same thing, so it doubles as the response-cache key (callers pass a
    `now` floored to the second, which keeps `since` queries stable within that second).
    """
    values = _single_values(pairs, JOB_LIST_PARAMETERS)
    status = _choice(values, "status", STATUSES, None)
    job_type = values.get("type")
    if job_type is not None and not _JOB_TYPE.fullmatch(job_type):
        raise QueryError(
            "type", "'type' must be a job type name such as scan (lowercase letters, digits, _ -)."
        )
    since = parse_since(values["since"], now) if "since" in values else None
    # An empty search matches every path: it is "no search", not an error.
    search = values.get("search") or None
    if search is not None and len(search) > MAX_SEARCH_LENGTH:
        raise QueryError("search", f"'search' must be at most {MAX_SEARCH_LENGTH} characters.")
    id_prefix = values.get("id_prefix")
    if id_prefix is not None:
        id_prefix = id_prefix.lower()
        if not _ID_PREFIX.fullmatch(id_prefix):
            raise QueryError(
                "id_prefix", "'id_prefix' must be 1 to 36 characters of 0-9, a-f and '-'."
            )
    return JobQuery(
        status=status,
        job_type=job_type,
        since=since,
        search=search,
        id_prefix=id_prefix,
        sort=_choice(values, "sort", SORT_FIELDS, "created_at") or "created_at",
        order=_choice(values, "order", ORDERS, "desc") or "desc",
        limit=_integer(values, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT),
        offset=_integer(values, "offset", 0, 0, MAX_OFFSET),
    )


def has_filters(query: JobQuery) -> bool:
    """True when the list is narrowed (what `has_filters` in the response tells the UI)."""
    return any(
        value is not None
        for value in (query.status, query.job_type, query.since, query.search, query.id_prefix)
    )


def parse_log_query(pairs: Iterable[tuple[str, str]]) -> PageQuery:
    """`lines` (1-1000, default 500) and `offset` (>= 0) of `GET /api/jobs/{id}/logs`."""
    values = _single_values(pairs, LOG_PARAMETERS)
    return PageQuery(
        limit=_integer(values, "lines", LOG_DEFAULT_LINES, 1, LOG_MAX_LINES),
        offset=_integer(values, "offset", 0, 0, MAX_OFFSET),
    )


def parse_errors_query(pairs: Iterable[tuple[str, str]]) -> PageQuery:
    """`limit` (1-100, default 50) and `offset` (>= 0) of `GET /api/jobs/{id}/errors`."""
    values = _single_values(pairs, ERRORS_PARAMETERS)
    return PageQuery(
        limit=_integer(values, "limit", ERRORS_DEFAULT_LIMIT, 1, ERRORS_MAX_LIMIT),
        offset=_integer(values, "offset", 0, 0, MAX_OFFSET),
    )


def parse_no_parameters(pairs: Iterable[tuple[str, str]]) -> None:
    """For endpoints that take no query parameters: any parameter is unknown."""
    _single_values(pairs, ())


class JsonBodyError(ValueError):
    """A request body that is not JSON, or nests deeper than MAX_JSON_DEPTH."""


def json_nesting_depth(text: str) -> int:
    """How deep arrays and objects nest in `text` (brackets inside strings do not count).

    A regular-expression scan, not a parse, so it cannot itself run out of stack; on invalid
    JSON it still gives a number, and the parse that follows reports the error.
    """
    depth = deepest = 0
    for match in _JSON_STRUCTURE.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif token in "]}":
            depth -= 1
    return deepest


def parse_json_body(raw: bytes) -> object:
    """A request body as JSON (None when empty); JsonBodyError when invalid or too deep."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise JsonBodyError("The request body is not valid JSON (not UTF-8).") from None
    if not text.strip():
        return None
    if json_nesting_depth(text) > MAX_JSON_DEPTH:
        raise JsonBodyError(f"The request body nests deeper than {MAX_JSON_DEPTH} levels.")
    try:
        return json.loads(text)
    except ValueError:
        raise JsonBodyError("The request body is not valid JSON.") from None


def is_job_id(text: str) -> bool:
    """A job id is a lowercase canonical UUID (what the store creates)."""
    return _UUID.fullmatch(text) is not None


@dataclass(frozen=True)
class ScanSubmission:
    """A validated `POST /api/jobs` body (the path is checked on disk by the handler)."""

    job_type: str
    path: str
    full: bool


SUBMISSION_KEYS = ("job_type", "path", "path_is_utf8", "full")
MAX_PATH_LENGTH = 4096


def parse_submission(body: object) -> ScanSubmission:
    """The JSON body of `POST /api/jobs` -> ScanSubmission; errors name the offending field."""
    if not isinstance(body, dict):
        raise QueryError("body", "The request body must be a JSON object.")
    for key in body:
        if key not in SUBMISSION_KEYS:
            raise QueryError(
                key, f"Unknown field '{key}'. Known fields: {', '.join(SUBMISSION_KEYS)}."
            )
    job_type = body.get("job_type")
    if job_type != "scan":
        raise QueryError("job_type", "'job_type' must be \"scan\" (the only job type so far).")
    path = body.get("path")
    if not isinstance(path, str) or not path:
        raise QueryError("path", "'path' must be a non-empty string: a directory to scan.")
    path_is_utf8 = body.get("path_is_utf8", True)
    if not isinstance(path_is_utf8, bool):
        raise QueryError("path_is_utf8", "'path_is_utf8' must be true or false.")
    path = parse_path(path, path_is_utf8)
    full = body.get("full", False)
    if not isinstance(full, bool):
        raise QueryError("full", "'full' must be true or false.")
    return ScanSubmission(job_type=job_type, path=path, full=full)


def parse_path(path: str, path_is_utf8: bool) -> str:
    """A directory path sent by a client (`path` with its `path_is_utf8` flag) as Python holds
    it; QueryError naming `path` when it cannot be one, or is not absolute."""
    if len(path) > MAX_PATH_LENGTH or "\x00" in path:
        raise QueryError("path", "'path' is not a valid path.")
    # A name that is not UTF-8 travels in the escaped form (vpo/pathtext.py, docs/api.md), the
    # same form the API answers with, so a client can send back a path it was given.
    try:
        path = path_from_escaped(path, path_is_utf8)
    except ValueError as exc:
        how = (
            "send a name that is not UTF-8 escaped, with path_is_utf8 false"
            if path_is_utf8
            else "write each byte that is not UTF-8 as \\xNN (80 to ff) and each backslash as \\\\"
        )
        raise QueryError("path", f"'path' is not a valid path ({exc}): {how}.") from None
    if not path.startswith("/"):
        raise QueryError(
            "path", "'path' must be absolute: the daemon does not know the client's directory."
        )
    return path


@dataclass(frozen=True)
class BrowseQuery:
    """A validated `GET /api/browse`: the directory (as Python holds it) and the page."""

    path: str
    limit: int
    offset: int


def parse_browse_query(pairs: Iterable[tuple[str, str]]) -> BrowseQuery:
    """`path` (required, absolute, escaped form when `path_is_utf8=false`), `limit` (1-1000,
    default 100) and `offset` of `GET /api/browse`."""
    values = _single_values(pairs, BROWSE_PARAMETERS)
    raw = values.get("path")
    if not raw:
        raise QueryError("path", "'path' is required: the directory whose folders to list.")
    flag = _choice(values, "path_is_utf8", ("true", "false"), "true")
    return BrowseQuery(
        path=parse_path(raw, flag == "true"),
        limit=_integer(values, "limit", BROWSE_DEFAULT_LIMIT, 1, BROWSE_MAX_LIMIT),
        offset=_integer(values, "offset", 0, 0, MAX_OFFSET),
    )
