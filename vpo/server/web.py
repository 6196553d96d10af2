"""The web dashboard's pages (docs/design.md §9): `/jobs`, `/jobs/{id}`, `/` and the static files.

Pages are rendered by the server from the same store and the same query parsing as the API, so
they work without JavaScript and a reload or a shared link shows the same view; then
`static/js/jobs.js` and `static/js/job_detail.js` keep them live by polling the API.

Every HTML response carries a strict Content-Security-Policy: scripts and styles only from our
own files, nothing inline. Jinja's autoescaping writes every value as text, never as markup.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from aiohttp import web

from vpo import joblog
from vpo.config import polling_rules
from vpo.jobs import STATUSES
from vpo.server import STATE, current_second
from vpo.server.api import stats_payload, stats_window_start
from vpo.server.display import (
    count_text,
    detail_fields,
    empty_text,
    error_cells,
    errors_text,
    list_cells,
    log_level,
    log_range,
    page_text,
    visible,
)
from vpo.server.query import (
    JOB_LIST_PARAMETERS,
    QueryError,
    has_filters,
    is_job_id,
    parse_job_query,
)

SERVER_DIR = Path(__file__).parent
TEMPLATES_DIR = SERVER_DIR / "templates"
STATIC_DIR = SERVER_DIR / "static"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
HTML_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    # Pages show live state: a back button or a proxy must not show an old copy.
    "Cache-Control": "no-cache",
}
# Log lines rendered with the detail page; older ones come with "Load earlier lines".
LOG_TAIL_LINES = 200
# File errors rendered with the detail page; job_detail.js pages on with the same size.
ERRORS_PAGE = 50
# `/jobs/<short id>`: at least this many hex digits, so that a typo or a one-letter address does
# not land on some job; the list's short ids are 8.
MIN_SHORT_ID = 4
_SHORT_ID = re.compile(rf"[0-9a-f][0-9a-f-]{{{MIN_SHORT_ID - 1},35}}")
# An ambiguous short id lists at most this many of the jobs it matches.
AMBIGUOUS_SHOWN = 20

SINCE_OPTIONS = (("24h", "Last 24 hours"), ("7d", "Last 7 days"), ("30d", "Last 30 days"))
KNOWN_TYPES = ("scan",)
# (sort key, column label); None: not sortable. Text columns sort A-Z first, times newest first.
COLUMNS = (
    ("job_type", "Type"),
    ("status", "Status"),
    (None, "Progress"),
    ("file_path", "Target"),
    ("created_at", "Created (UTC)"),
    ("duration", "Duration"),
)
FILTER_PARAMETERS = ("status", "type", "since", "search", "id_prefix", "offset")
DEFAULT_ORDER = ("created_at", "desc")
FIRST_ORDER = {"job_type": "asc", "status": "asc", "file_path": "asc"}

TEMPLATES: web.AppKey[jinja2.Environment] = web.AppKey("vpo_web_templates", jinja2.Environment)
STATIC_VERSION: web.AppKey[str] = web.AppKey("vpo_web_static_version", str)


def _static_version() -> str:
    """A token that changes when any static file changes: appended to their URLs so a browser
    never runs new pages with old scripts after an upgrade."""
    newest = max((p.stat().st_mtime_ns for p in STATIC_DIR.rglob("*") if p.is_file()), default=0)
    return format(newest, "x")


def _render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    env = request.app[TEMPLATES]
    settings = request.app[STATE].settings
    config = settings.polling_config()
    version = request.app[STATIC_VERSION]
    html = env.get_template(template).render(
        polling={
            "rules_json": json.dumps(polling_rules(), separators=(",", ":")),
            "interval_ms": config["interval_ms"],
            "log_interval_ms": config["log_interval_ms"],
            "enabled": config["enabled"],
        },
        static_url=lambda name: f"/static/{name}?v={version}",
        **context,
    )
    return web.Response(
        text=html, status=status, content_type="text/html", charset="utf-8", headers=HTML_HEADERS
    )


# -- /jobs -----------------------------------------------------------------------------------


def _href(params: list[tuple[str, str]]) -> str:
    query = urlencode([(k, v) for k, v in params if v != ""])
    return "/jobs" + ("?" + query if query else "")


def _with(params: list[tuple[str, str]], **changes: str | None) -> list[tuple[str, str]]:
    """`params` with some names set (None or "" removes them), keeping the others' order."""
    kept = [(k, v) for k, v in params if k not in changes]
    for name, value in changes.items():
        if value:
            kept.append((name, value))
    return kept


def _page_href(params: list[tuple[str, str]], offset: int) -> str:
    return _href(_with(params, offset=str(offset) if offset > 0 else None))


@dataclass(frozen=True)
class _Column:
    label: str
    href: str | None
    aria_sort: str | None


def _columns(params: list[tuple[str, str]], sort: str, order: str) -> list[_Column]:
    columns = []
    for key, label in COLUMNS:
        if key is None:
            columns.append(_Column(label, None, None))
            continue
        if key == sort:
            next_order = "asc" if order == "desc" else "desc"
            aria = "ascending" if order == "asc" else "descending"
        else:
            next_order = FIRST_ORDER.get(key, "desc")
            aria = None
        href = _href(_with(params, sort=key, order=next_order, offset=None))
        columns.append(_Column(label, href, aria))
    return columns


async def jobs_page(request: web.Request) -> web.Response:
    """The dashboard: the same query parameters as `GET /api/jobs`, rendered as a table."""
    state = request.app[STATE]
    params = list(request.query.items())
    view = {k: v for k, v in params}
    now = current_second()
    query_error = None
    try:
        query = parse_job_query(params, now)
    except QueryError as exc:
        # One coherent view: the message, and the whole list (live) in place of the bad one.
        query_error = exc.message
        query = parse_job_query([], now)
        params = []
        view = {}
    jobs, total = await state.run_blocking(state.store.list_page, query)
    stats = stats_payload(await state.run_blocking(state.store.job_stats, stats_window_start()))
    filtered = has_filters(query)
    rows = [(item, list_cells(item)) for item in (job.to_list_dict(now) for job in jobs)]
    # What jobs.js polls: the validated view in a fixed order, empty values dropped.
    api_query = urlencode([(k, view[k]) for k in JOB_LIST_PARAMETERS if view.get(k)])
    limit, offset = query.limit, query.offset
    type_options = list(KNOWN_TYPES)
    if query.job_type and query.job_type not in type_options:
        type_options.append(query.job_type)
    since_options = list(SINCE_OPTIONS)
    if view.get("since") and view["since"] not in dict(SINCE_OPTIONS):
        since_options.append((view["since"], f"Last {view['since']}"))
    return _render(
        request,
        "jobs.html",
        status=400 if query_error else 200,
        page="jobs",
        view={k: view.get(k, "") for k in JOB_LIST_PARAMETERS},
        query_error=query_error,
        api_query=api_query,
        rows=rows,
        has_filters=filtered,
        clear_href=_href(_with(params, **dict.fromkeys(FILTER_PARAMETERS))),
        status_options=STATUSES,
        type_options=type_options,
        since_options=since_options,
        columns=_columns(params, query.sort, query.order),
        count_text=count_text(total, offset, len(rows), filtered),
        page_text=page_text(total, offset, limit),
        empty_text=empty_text(filtered),
        offset=offset,
        limit=limit,
        prev_href=_page_href(params, max(0, offset - limit)) if offset > 0 else None,
        next_href=_page_href(params, offset + limit) if offset + limit < total else None,
        stats=stats,
        # With scan roots the New scan form has a folder picker; without, the daemon refuses to
        # browse and the form says how to turn the picker on.
        restricted=bool(state.settings.scan_roots),
        # The newest jobs first, unfiltered, first page: where a job just queued shows at the top.
        default_view=not filtered and offset == 0 and (query.sort, query.order) == DEFAULT_ORDER,
    )


# -- /jobs/{id} ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _LogTail:
    lines: list[tuple[str, str]]  # (text, level)
    start: int  # line offset of the first line shown
    end: int  # line offset after the last line shown: where polling continues


def _read_tail(logs_dir: Path, job_id: str) -> _LogTail:
    total = joblog.read_log(logs_dir, job_id, lines=1, offset=0).total_lines
    start = max(0, total - LOG_TAIL_LINES)
    page = joblog.read_log(logs_dir, job_id, lines=LOG_TAIL_LINES, offset=start)
    return _LogTail(
        lines=[(visible(line), log_level(line)) for line in page.lines],
        start=start,
        end=start + len(page.lines),
    )


def _job_gone(request: web.Request) -> web.Response:
    return _render(request, "job_gone.html", status=404, page="job-gone")


async def _short_id_page(request: web.Request, ref: str) -> web.Response:
    """`/jobs/<short id>`: a redirect to the one job it names, a list when it names several."""
    state = request.app[STATE]
    prefix = ref.lower()
    if not _SHORT_ID.fullmatch(prefix):
        return _job_gone(request)
    matches = await state.run_blocking(state.store.jobs_by_prefix, prefix, AMBIGUOUS_SHOWN + 1)
    if not matches:
        return _job_gone(request)
    if len(matches) == 1:
        raise web.HTTPFound(f"/jobs/{matches[0].id}", headers={"Cache-Control": "no-cache"})
    now = current_second()
    shown = matches[:AMBIGUOUS_SHOWN]
    return _render(
        request,
        "job_ambiguous.html",
        # 300 Multiple Choices: the address names more than one job; the page lists them.
        status=300,
        page="job-ambiguous",
        prefix=prefix,
        rows=[(item, list_cells(item)) for item in (job.to_list_dict(now) for job in shown)],
        more=len(matches) > AMBIGUOUS_SHOWN,
        list_href=_href([("id_prefix", prefix)]),
    )


async def job_detail_page(request: web.Request) -> web.Response:
    """One job: every field, progress, the newest log lines and the first file errors."""
    state = request.app[STATE]
    job_id = request.match_info["job_id"]
    if not is_job_id(job_id):
        return await _short_id_page(request, job_id)
    job = await state.run_blocking(state.store.get_job, job_id)
    if job is None:
        return _job_gone(request)
    logs_dir = state.store.logs_dir
    has_logs = await state.run_blocking(joblog.has_log, logs_dir, job_id)
    tail = await state.run_blocking(_read_tail, logs_dir, job_id)
    errors, errors_count = await state.run_blocking(state.store.file_errors, job_id, ERRORS_PAGE, 0)
    detail = job.to_detail_dict(current_second(), has_logs, errors_count=errors_count)
    return _render(
        request,
        "job_detail.html",
        page="job-detail",
        job=detail,
        f=detail_fields(detail),
        log=tail,
        log_range_text=log_range(tail.start, tail.end),
        errors=[error_cells(error.to_dict()) for error in errors],
        errors_text=errors_text(len(errors), errors_count),
    )


# -- the rest --------------------------------------------------------------------------------


async def root_redirect(request: web.Request) -> web.Response:
    raise web.HTTPFound("/jobs")


async def polling_rules_file(request: web.Request) -> web.Response:
    """`vpo/polling_rules.json` as a static file, for scripts that want the rules by URL."""
    text = resources.files("vpo").joinpath("polling_rules.json").read_text(encoding="utf-8")
    return web.Response(
        text=text, content_type="application/json", headers={"Cache-Control": "no-cache"}
    )


@web.middleware
async def _static_headers(request: web.Request, handler: Any) -> web.StreamResponse:
    """Headers of the files under /static/ (a sub-application: the API's polls skip this)."""
    response = await handler(request)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    # Versioned URLs (?v=...) change with the files, so browsers may keep them for a day.
    # With a token they are only for token holders: no shared cache (proxy) may keep them.
    scope = "private" if request.config_dict[STATE].settings.auth_token else "public"
    response.headers.setdefault("Cache-Control", f"{scope}, max-age=86400")
    return response


def setup_web(app: web.Application) -> None:
    """Add the dashboard's routes (pages, static files) to `app`."""
    app[TEMPLATES] = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    app[STATIC_VERSION] = _static_version()
    app.router.add_get("/", root_redirect)
    app.router.add_get("/jobs", jobs_page)
    app.router.add_get("/jobs/{job_id}", job_detail_page)
    static = web.Application(middlewares=[_static_headers])
    static.router.add_get("/polling-rules.json", polling_rules_file)
    static.router.add_static("/", STATIC_DIR, append_version=False)
    app.add_subapp("/static", static)
