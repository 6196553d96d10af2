"""The JSON API handlers (docs/design.md §6). Validation is `query.py`'s, the error shape
`errors.py`'s, tags and the response cache `etag.py`'s; what is left here is reading the store off
the event loop and turning the answers into responses.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Hashable
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from vpo import joblog, scanroots
from vpo.jobs import CANCELLED, COMPLETED, FAILED, JOB_TYPES, QUEUED, RUNNING, Job, JobQuery
from vpo.pathtext import escaped_path, is_utf8
from vpo.poll_hint import HINT_HEADER
from vpo.server import STATE, ServerState, current_second
from vpo.server import errors as err
from vpo.server.etag import CachedResponse, etag_for, if_none_match_matches
from vpo.server.openapi import openapi_document
from vpo.server.query import (
    JsonBodyError,
    QueryError,
    has_filters,
    is_job_id,
    parse_browse_query,
    parse_errors_query,
    parse_job_query,
    parse_json_body,
    parse_log_query,
    parse_no_parameters,
    parse_submission,
)
from vpo.store import JobAlreadyTerminal, JobNotFinished, JobNotFound, StorageFull

routes = web.RouteTableDef()

POLLED_CACHE_CONTROL = "no-cache"


def dumps(payload: Any) -> bytes:
    # ASCII escapes keep odd file names (undecodable bytes kept as surrogates) valid JSON.
    return json.dumps(payload, separators=(",", ":")).encode()


def json_response(
    payload: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=dumps(payload), status=status, content_type="application/json", headers=headers
    )


def conditional_response(
    request: web.Request, entry: CachedResponse, *, built: bool, poll_hint: str | None = None
) -> web.Response:
    """200 with the body, or 304 without one when the client already holds this tag.

    `X-Cache` says whether this answer was built now (MISS) or served from the response cache
    without touching the jobs (HIT): operators and tests can see that polls are cheap.
    `X-Poll-Interval` (on 304s too) is not part of the body, so it never changes the tag.
    """
    headers = {
        "ETag": entry.etag,
        "Cache-Control": POLLED_CACHE_CONTROL,
        "X-Cache": "MISS" if built else "HIT",
    }
    if poll_hint is not None:
        headers[HINT_HEADER] = poll_hint
    if if_none_match_matches(request.headers.get("If-None-Match"), entry.etag):
        return web.Response(status=304, headers=headers)
    headers["Content-Type"] = "application/json"  # as a header: the keyword parses it
    return web.Response(body=entry.body, status=entry.status, headers=headers)


def _query_pairs(request: web.Request) -> list[tuple[str, str]]:
    return list(request.query.items())


def _parsed(parse: Callable[..., Any], *args: Any) -> Any:
    try:
        return parse(*args)
    except QueryError as exc:
        raise err.invalid_parameter(exc.parameter, exc.message) from None


def _job_id(request: web.Request) -> str:
    job_id = request.match_info["job_id"]
    if not is_job_id(job_id):
        raise err.ApiError(
            400,
            err.INVALID_ID_FORMAT,
            "The job id must be a UUID such as 3f1c2a9e-5b7d-4c1e-9a0f-2b6d8e4c1a77.",
            {"parameter": "job_id"},
        )
    return job_id


def _job_not_found(job_id: str) -> err.ApiError:
    return err.not_found(f"Job {job_id} does not exist.", job_id=job_id)


async def cached(
    request: web.Request,
    key: Hashable,
    version: Callable[[], Hashable] | None,
    build: Callable[[datetime], tuple[Any, bool]],
    now: datetime | None = None,
) -> web.Response:
    """Serve a polled GET from the response cache, building it (once) when it is stale.

    `version` reads what the response depends on (cheap: a counter, a stat) on a blocking-work
    thread; None means the store's change counter alone, read on the loop
    (`ServerState.store_version`). `build` makes the payload for a given instant, on a thread,
    and says whether it depends on the clock. The version is read before the build, so a write
    between the two only causes an extra rebuild later, never a stale tag.
    """
    state = request.app[STATE]
    if now is None:
        now = current_second()
    second = int(now.timestamp())
    counter = await state.store_version()
    current: Hashable = counter if version is None else await state.run_blocking(version)
    hint = state.known_poll_hint(counter) or await state.poll_hint(counter)
    entry = state.cache.get(key, current, second)
    built = entry is None
    if entry is None:
        entry = await _build_once(state, key, current, second, now, build)
    return conditional_response(request, entry, built=built, poll_hint=hint)


async def _build_once(
    state: ServerState,
    key: Hashable,
    version: Hashable,
    second: int,
    now: datetime,
    build: Callable[[datetime], tuple[Any, bool]],
) -> CachedResponse:
    flight_key = (key, version, second)
    pending = state.inflight.get(flight_key)
    if pending is not None:
        return await pending
    future: asyncio.Future[CachedResponse] = asyncio.get_running_loop().create_future()
    state.inflight[flight_key] = future
    try:
        payload_body, tag, clock_dependent = await state.run_build(_serialised, build, now)
        entry = state.cache.put(
            key,
            payload_body,
            version=version,
            second=second,
            clock_dependent=clock_dependent,
            etag=tag,
        )
        future.set_result(entry)
        return entry
    except Exception as exc:
        future.set_exception(exc)
        # Nobody may be waiting; mark the exception retrieved so asyncio does not warn.
        future.exception()
        raise
    except BaseException:
        future.cancel()
        raise
    finally:
        del state.inflight[flight_key]


def _serialised(
    build: Callable[[datetime], tuple[Any, bool]], now: datetime
) -> tuple[bytes, str, bool]:
    """The body, its tag (hashed here, off the loop) and whether it depends on the clock."""
    payload, clock_dependent = build(now)
    body = dumps(payload)
    return body, etag_for(body), clock_dependent


# -- health ----------------------------------------------------------------------------------


@routes.get("/health")
async def health(request: web.Request) -> web.Response:
    state = request.app[STATE]
    parse_no_parameters_or_400(request)
    stats = await state.run_blocking(state.store.store_stats)
    body = {
        "status": "ok" if stats["ok"] else "unhealthy",
        "version": state.version,
        "uptime_seconds": state.uptime_seconds(),
        "database": "ok" if stats["ok"] else "unavailable",
        "jobs_queued": stats.get("jobs_queued", 0),
        "jobs_running": stats.get("jobs_running", 0),
        "store_id": stats.get("store_id"),
    }
    if not stats["ok"]:
        raise err.ApiError(503, err.UNHEALTHY, "The database is not available.", body)
    # Readable but not writable (a full disk): jobs cannot start or end, so not healthy either.
    problem = state.store.storage.problem()
    if problem is not None:
        body.update(status="degraded", reason=problem)
        raise err.ApiError(503, err.DEGRADED, problem, body)
    return json_response(body, headers={"Cache-Control": "no-store"})


def parse_no_parameters_or_400(request: web.Request) -> None:
    _parsed(parse_no_parameters, _query_pairs(request))


# -- jobs ------------------------------------------------------------------------------------


# Parsed list queries kept by their raw text; a poller repeats its query every few seconds.
MAX_PARSED_QUERIES = 256


def _list_query(
    state: ServerState, request: web.Request, now: datetime
) -> tuple[Hashable, JobQuery]:
    """The request's JobQuery and its response-cache key, parsed once per distinct query text
    (the raw text is then the key: cheaper to hash than the parsed query). One with `since` is
    parsed each time, as it names a moment computed from `now`."""
    raw = request.raw_path.partition("?")[2]
    known = state.parsed_queries.get(raw)
    if known is not None:
        return known
    query = _parsed(parse_job_query, _query_pairs(request), now)
    if query.since is not None:
        return ("jobs", query), query
    if len(state.parsed_queries) >= MAX_PARSED_QUERIES:
        state.parsed_queries.clear()
    known = state.parsed_queries[raw] = (("jobs", raw), query)
    return known


@routes.get("/api/jobs")
async def list_jobs(request: web.Request) -> web.Response:
    state = request.app[STATE]
    now = current_second()
    key, query = _list_query(state, request, now)

    def build(now: datetime) -> tuple[Any, bool]:
        jobs, total = state.store.list_page(query)
        if total == 0 and not _job_type_exists(state, query.job_type):
            raise err.invalid_parameter(
                "type",
                f"No job has type '{query.job_type}': this version creates {', '.join(JOB_TYPES)}.",
            )
        payload = {
            "jobs": [job.to_list_dict(now) for job in jobs],
            "total": total,
            "limit": query.limit,
            "offset": query.offset,
            "has_filters": has_filters(query),
        }
        # Time alone changes the answer when: the `since` window moves; a running job on the
        # page ages (duration_seconds); or, sorted by duration, a running job anywhere may
        # overtake others and move onto or off this page.
        clock_dependent = (
            query.since is not None
            or query.sort == "duration"
            or any(job.status == RUNNING for job in jobs)
        )
        return payload, clock_dependent

    return await cached(request, key, None, build, now)


def _job_type_exists(state: ServerState, job_type: str | None) -> bool:
    """Whether a `type` filter names a real type: one this version creates, or one a stored job
    has (job types are an open vocabulary). Only asked when the filter matched nothing."""
    return job_type is None or job_type in JOB_TYPES or state.store.has_job_type(job_type)


@routes.get("/api/jobs/{job_id}")
async def get_job(request: web.Request) -> web.Response:
    state = request.app[STATE]
    job_id = _job_id(request)
    parse_no_parameters_or_400(request)

    def build(now: datetime) -> tuple[Any, bool]:
        job = state.store.get_job(job_id)
        if job is None:
            raise _job_not_found(job_id)
        has_logs = joblog.has_log(state.store.logs_dir, job_id)
        errors_count = state.store.error_count(job_id)
        detail = job.to_detail_dict(now, has_logs, errors_count=errors_count)
        return detail, job.status == RUNNING

    return await cached(request, ("job", job_id), None, build)


@routes.get("/api/jobs/{job_id}/logs")
async def get_logs(request: web.Request) -> web.Response:
    state = request.app[STATE]
    job_id = _job_id(request)
    page = _parsed(parse_log_query, _query_pairs(request))
    path = joblog.log_path(state.store.logs_dir, job_id)

    def version() -> Hashable:
        try:
            stat = os.stat(path)
            file_version: tuple[int, int] | None = (stat.st_size, stat.st_mtime_ns)
        except FileNotFoundError:
            file_version = None
        return (state.store.change_counter(), file_version)

    def build(now: datetime) -> tuple[Any, bool]:
        if state.store.get_job(job_id) is None:
            raise _job_not_found(job_id)
        log_page = joblog.read_log(
            state.store.logs_dir, job_id, lines=page.limit, offset=page.offset
        )
        payload = {
            "job_id": job_id,
            "lines": log_page.lines,
            "total_lines": log_page.total_lines,
            "offset": log_page.offset,
            "has_more": log_page.has_more,
        }
        return payload, False

    return await cached(request, ("logs", job_id, page), version, build)


@routes.get("/api/jobs/{job_id}/errors")
async def get_errors(request: web.Request) -> web.Response:
    state = request.app[STATE]
    job_id = _job_id(request)
    page = _parsed(parse_errors_query, _query_pairs(request))

    def read() -> dict[str, Any]:
        if state.store.get_job(job_id) is None:
            raise _job_not_found(job_id)
        errors, total = state.store.file_errors(job_id, page.limit, page.offset)
        return {
            "job_id": job_id,
            "errors": [error.to_dict() for error in errors],
            "total": total,
            "limit": page.limit,
            "offset": page.offset,
        }

    return json_response(await state.run_blocking(read), headers={"Cache-Control": "no-cache"})


async def _json_body(request: web.Request) -> Any:
    return _decoded_body(await request.read())


def _decoded_body(raw: bytes) -> Any:
    try:
        return parse_json_body(raw)
    except JsonBodyError as exc:
        raise err.ApiError(400, err.INVALID_JSON, str(exc), {"parameter": "body"}) from None


def _check_directory(path: str) -> str:
    """The normalised path if it is an existing directory; 400 naming `path` otherwise."""
    normalised = os.path.normpath(path)
    try:
        if os.path.isdir(normalised):
            return normalised
        exists = os.path.exists(normalised)
    except (OSError, ValueError):
        exists = False
    problem = "is not a directory" if exists else "does not exist on the daemon's machine"
    raise err.invalid_parameter("path", f"'path' {problem}: {escaped_path(path)}")


def _refuse_when_storage_is_full(state: ServerState) -> None:
    """507 while the data dir cannot take writes: a job queued now could neither start nor be
    recorded reliably, and a cancel must not be answered unless it is on disk."""
    problem = state.store.storage.problem()
    if problem is not None:
        raise err.insufficient_storage(problem)


@routes.post("/api/jobs")
async def submit_job(request: web.Request) -> web.Response:
    state = request.app[STATE]
    parse_no_parameters_or_400(request)
    submission = _parsed(parse_submission, await _json_body(request))
    _refuse_when_storage_is_full(state)

    def create() -> Job:
        _check_allowed(state, submission.path)
        directory = _check_directory(submission.path)
        try:
            return state.store.create_job(
                submission.job_type,
                directory,
                params={"paths": [directory], "full": submission.full},
            )
        except StorageFull as full:
            raise err.insufficient_storage(str(full)) from None

    job = await state.run_blocking(create)
    state.wake_worker()
    return _created(job)


def _created(job: Job) -> web.Response:
    """201 with a new job's detail and where to poll it."""
    return json_response(
        job.to_detail_dict(current_second(), has_logs=False, errors_count=0),
        status=201,
        headers={"Location": f"/api/jobs/{job.id}"},
    )


def _check_allowed(state: ServerState, path: str) -> None:
    """403 PATH_NOT_ALLOWED when scan roots are configured and `path` (symlinks and `..`
    resolved) lies under none of them. Checked before the path's existence, so a client cannot
    learn what exists outside the roots."""
    roots = state.settings.scan_roots
    if roots and scanroots.allowing_root(os.path.normpath(path), roots) is None:
        raise err.ApiError(
            403,
            err.PATH_NOT_ALLOWED,
            f"{escaped_path(path)} is not under a scan root of this daemon "
            f"({', '.join(escaped_path(root) for root in roots)}).",
            {"parameter": "path", "roots": [escaped_path(root) for root in roots]},
        )


@routes.post("/api/jobs/{job_id}/cancel")
async def cancel_job(request: web.Request) -> web.Response:
    state = request.app[STATE]
    job_id = _job_id(request)
    parse_no_parameters_or_400(request)
    await _empty_body(request, "cancel")
    _refuse_when_storage_is_full(state)

    def cancel() -> dict[str, Any]:
        try:
            job = state.store.request_cancel(job_id)
        except StorageFull as full:
            raise err.insufficient_storage(str(full)) from None
        except JobNotFound:
            raise _job_not_found(job_id) from None
        except JobAlreadyTerminal as exc:
            raise err.ApiError(
                409,
                err.ALREADY_TERMINAL,
                f"Job {job_id} is already {exc.job.status}; only queued or running jobs "
                "can be cancelled.",
                {"job_id": job_id, "status": exc.job.status},
            ) from None
        now = current_second()
        has_logs = joblog.has_log(state.store.logs_dir, job_id)
        return job.to_detail_dict(now, has_logs, errors_count=state.store.error_count(job_id))

    return json_response(await state.run_blocking(cancel))


async def _empty_body(request: web.Request, action: str) -> None:
    """For POSTs that take no fields: no body, or `{}`; 400 naming what was sent otherwise
    (a JSON `null` too: it is a body, and not an object)."""
    raw = await request.read()
    if not raw.strip():
        return
    body = _decoded_body(raw)
    if body != {}:
        if isinstance(body, dict):
            field = next(iter(body))
            raise err.invalid_parameter(
                field, f"Unknown field '{field}': {action} takes no fields."
            )
        raise err.invalid_parameter("body", "The request body must be a JSON object (or empty).")


@routes.post("/api/jobs/{job_id}/retry")
async def retry_job(request: web.Request) -> web.Response:
    state = request.app[STATE]
    job_id = _job_id(request)
    parse_no_parameters_or_400(request)
    await _empty_body(request, "retry")
    _refuse_when_storage_is_full(state)

    def retry() -> Job:
        original = state.store.get_job(job_id)
        if original is None:
            raise _job_not_found(job_id)
        if original.status in (QUEUED, RUNNING):
            raise _not_finished(original)
        # A retry is a new scan submitted over HTTP: the roots apply as they are now.
        _check_allowed(state, original.file_path)
        try:
            return state.store.retry_job(job_id)
        except StorageFull as full:
            raise err.insufficient_storage(str(full)) from None
        except JobNotFound:
            raise _job_not_found(job_id) from None
        except JobNotFinished as exc:
            raise _not_finished(exc.job) from None

    job = await state.run_blocking(retry)
    state.wake_worker()
    return _created(job)


def _not_finished(job: Job) -> err.ApiError:
    return err.ApiError(
        409,
        err.NOT_FINISHED,
        f"Job {job.id} is still {job.status}; only a job that ended (completed, failed or "
        "cancelled) can be retried.",
        {"job_id": job.id, "status": job.status},
    )


# -- counters --------------------------------------------------------------------------------

STATS_WINDOW = timedelta(hours=24)


def stats_window_start() -> datetime:
    """Where "the last 24 h" of `GET /api/stats` begins (the dashboard renders the same).

    The window moves by whole minutes: the counters may lag a minute behind a job leaving the
    window, and in exchange the answer (and its tag) only changes when a job changes or a
    minute passes, not every second."""
    return (current_second() - STATS_WINDOW).replace(second=0)


def stats_payload(counts: dict[str, int]) -> dict[str, Any]:
    """The body of `GET /api/stats` from `JobStore.job_stats` counts."""
    return {
        QUEUED: counts[QUEUED],
        RUNNING: counts[RUNNING],
        "last_24h": {status: counts[status] for status in (COMPLETED, FAILED, CANCELLED)},
    }


@routes.get("/api/stats")
async def stats(request: web.Request) -> web.Response:
    state = request.app[STATE]
    parse_no_parameters_or_400(request)

    def version() -> Hashable:
        return (state.store.change_counter(), stats_window_start())

    def build(now: datetime) -> tuple[Any, bool]:
        return stats_payload(state.store.job_stats(stats_window_start())), False

    return await cached(request, ("stats",), version, build)


# -- scan roots and browsing -----------------------------------------------------------------


def _path_item(path: str) -> dict[str, Any]:
    return {"path": escaped_path(path), "path_is_utf8": is_utf8(path)}


@routes.get("/api/roots")
async def list_roots(request: web.Request) -> web.Response:
    state = request.app[STATE]
    parse_no_parameters_or_400(request)
    roots = state.settings.scan_roots

    def read() -> dict[str, Any]:
        return {
            "restricted": bool(roots),
            "roots": [{**_path_item(root), "available": os.path.isdir(root)} for root in roots],
        }

    return json_response(await state.run_blocking(read), headers={"Cache-Control": "no-cache"})


@routes.get("/api/browse")
async def browse(request: web.Request) -> web.Response:
    state = request.app[STATE]
    query = _parsed(parse_browse_query, _query_pairs(request))
    roots = state.settings.scan_roots
    if not roots:
        raise err.ApiError(
            403,
            err.NO_SCAN_ROOTS,
            "Browsing is off: this daemon has no scan roots. Set [scan] roots in its config to "
            "the directories clients may scan.",
            {"parameter": "path"},
        )

    def read() -> dict[str, Any]:
        directory = os.path.normpath(query.path)
        _check_allowed(state, directory)
        _check_directory(directory)
        try:
            # The real location, which the check above approved (not the name, which a
            # symlink swapped in between could send elsewhere).
            listing = scanroots.list_subdirectories(
                scanroots.real_location(directory), roots, query.limit, query.offset
            )
        except OSError as exc:
            reason = exc.strerror or "cannot be read"
            raise err.invalid_parameter(
                "path", f"'path' cannot be listed ({reason.lower()}): {escaped_path(directory)}"
            ) from None
        return {
            **_path_item(directory),
            "directories": [
                {"name": escaped_path(n), "name_is_utf8": is_utf8(n)} for n in listing.names
            ],
            "total": listing.total,
            "limit": query.limit,
            "offset": query.offset,
        }

    return json_response(await state.run_blocking(read), headers={"Cache-Control": "no-cache"})


# -- configuration and description -----------------------------------------------------------


@routes.get("/api/config/polling")
async def polling_config(request: web.Request) -> web.Response:
    state = request.app[STATE]
    parse_no_parameters_or_400(request)
    payload = state.settings.polling_config()
    # Settings are fixed for the daemon's lifetime: version 0, built at most once.
    return await cached(request, ("polling",), lambda: 0, lambda now: (payload, False))


@routes.get("/api/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    parse_no_parameters_or_400(request)
    state = request.app[STATE]
    return json_response(openapi_document(state.version))
