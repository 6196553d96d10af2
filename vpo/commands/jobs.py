"""`vpo jobs`: list, inspect, follow, cancel, retry and wait for the daemon's jobs, from a shell
or script.

Everything goes through `vpo.client.VpoClient`, so the CLI sees exactly what the API serves.
Failures end in one line on stderr and a non-zero exit code, never a traceback: scripts test the
exit code, people read the line.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from typing import Any, NoReturn, TypeVar

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from vpo.client import ApiError, JobListParams, VpoClient, VpoError
from vpo.client_settings import DaemonTarget, client_settings, resolve_daemons
from vpo.jobmerge import merge_jobs, split_job_ref
from vpo.jobtext import (
    CLI_COUNTS,
    counts_text,
    duration_text,
    is_terminal,
    progress_text,
    time_text,
)
from vpo.pathtext import not_utf8_note, visible
from vpo.poll_hint import hinted_interval_ms

F = TypeVar("F", bound=Callable[..., Any])

# `vpo jobs wait` exit codes, for scripts.
EXIT_COMPLETED, EXIT_FAILED, EXIT_CANCELLED, EXIT_TIMEOUT, EXIT_WAIT_ERROR = 0, 1, 2, 3, 4
EXIT_ERROR = 1
EXIT_INTERRUPTED = 130  # the shell convention for "stopped by SIGINT"

MAX_PAGE = 100  # the API's largest page
LOG_PAGE_LINES = 1000  # the API's maximum page, so a long log takes few requests
STATUS_STYLES = {
    "queued": "cyan",
    "running": "bold yellow",
    "completed": "green",
    "failed": "bold red",
    "cancelled": "magenta",
}
WAIT_EXIT_CODES = {"completed": EXIT_COMPLETED, "failed": EXIT_FAILED, "cancelled": EXIT_CANCELLED}


class JobsCommandError(click.ClickException):
    """One-line failure with a chosen exit code (click prints it as "Error: ...")."""

    def __init__(self, message: str, exit_code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def reports_errors(exit_code: int = EXIT_ERROR) -> Callable[[F], F]:
    """Turn client errors and Ctrl+C into one line and an exit code instead of a traceback."""

    def decorate(command: F) -> F:
        @functools.wraps(command)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return command(*args, **kwargs)
            except VpoError as exc:
                raise JobsCommandError(str(exc), exit_code) from None
            except KeyboardInterrupt:
                click.echo("", err=True)
                sys.exit(EXIT_INTERRUPTED)

        return run  # type: ignore[return-value]

    return decorate


# ---------------------------------------------------------------------------------------------
# Formatting (pure)


def job_outcome_line(job: dict[str, Any]) -> str:
    """The one line `vpo jobs wait` prints when a job ends."""
    short = job.get("id_short") or str(job.get("id", ""))[:8]
    status = job.get("status", "?")
    line = f"job {short} {status}"
    duration = duration_text(job.get("duration_seconds"))
    if duration:
        line += f" after {duration}"
    if status == "failed" and job.get("error_message"):
        line += f": {visible(job['error_message'])}"
    elif job.get("summary"):
        line += f": {job['summary']}"
    return line


def path_label(path: object, utf8: object) -> str:
    """A path from the API as it should read in a terminal: invisible and control characters
    escaped (a name cannot disguise its extension), plus a note when it is not UTF-8."""
    note = not_utf8_note(utf8)
    return f"{visible(path)} ({note})" if note else visible(path)


def job_detail_rows(job: dict[str, Any]) -> list[tuple[str, str]]:
    progress = progress_text(job)
    counts = counts_text(job, CLI_COUNTS)
    if counts:
        progress = f"{progress} ({counts})" if progress else counts
    if job.get("phase"):
        progress = f"{progress}, phase {job['phase']}" if progress else f"phase {job['phase']}"
    rows = [
        ("type", str(job.get("job_type", ""))),
        ("status", str(job.get("status", ""))),
        ("progress", progress),
        ("target", path_label(job.get("file_path") or "", job.get("file_path_is_utf8"))),
        ("priority", str(job.get("priority", ""))),
        ("created (UTC)", time_text(job.get("created_at"))),
        ("started (UTC)", time_text(job.get("started_at"))),
        ("completed (UTC)", time_text(job.get("completed_at"))),
        ("duration", duration_text(job.get("duration_seconds"))),
        ("attempts", str(job.get("attempts", ""))),
        ("summary", str(job.get("summary") or "")),
        ("error", visible(job.get("error_message") or "")),
    ]
    return [(name, value) for name, value in rows if value]


def jobs_table(jobs_: list[dict[str, Any]], daemons: list[str] | None = None) -> Table:
    """The list as a table; with `daemons` (one name per job) a DAEMON column comes first."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    if daemons is not None:
        table.add_column("DAEMON", no_wrap=True)
    table.add_column("ID", no_wrap=True)
    table.add_column("TYPE", no_wrap=True)
    table.add_column("STATUS", no_wrap=True)
    table.add_column("PROGRESS", justify="right", no_wrap=True)
    table.add_column("TARGET", overflow="fold")
    table.add_column("CREATED (UTC)", no_wrap=True)
    table.add_column("DURATION", justify="right", no_wrap=True)
    for index, job in enumerate(jobs_):
        status = str(job.get("status", ""))
        daemon_cell = [] if daemons is None else [visible(daemons[index])]
        table.add_row(
            *daemon_cell,
            str(job.get("id_short") or str(job.get("id", ""))[:8]),
            str(job.get("job_type", "")),
            Text(status, style=STATUS_STYLES.get(status, "")),
            progress_text(job),
            Text(visible(job.get("file_path") or "")),
            # Minutes are enough in a list and leave an 80-column terminal room for the path.
            time_text(job.get("created_at"), seconds=False),
            duration_text(job.get("duration_seconds")),
        )
    return table


def table_console() -> Console:
    """A console for tables: the terminal's width, or unwrapped rows when piped to a file or
    `grep` (rich would otherwise fold long paths at 80 columns), unless COLUMNS says otherwise."""
    wide = not sys.stdout.isatty() and not os.environ.get("COLUMNS")
    return Console(highlight=False, width=10_000 if wide else None)


# ---------------------------------------------------------------------------------------------
# Commands


def _client(ctx: click.Context) -> VpoClient:
    url_flag, token_flag, daemon_flag = ctx.obj
    url, token = client_settings(url_flag, token_flag, os.environ, daemon_flag=daemon_flag)
    return ctx.with_resource(VpoClient(url, token))


def _client_for(ctx: click.Context, ref: str) -> tuple[VpoClient, str]:
    """The client and the job id of an ID argument, which may name its daemon: `tv:3f2a9c1e`.

    A daemon named in the reference is reached at its configured URL (VPO_URL and VPO_DAEMON
    do not apply: the reference says which daemon); with --url as well it is ambiguous.
    """
    name, job_id = split_job_ref(ref)
    if name is None:
        return _client(ctx), ref
    url_flag, token_flag, _daemon_flag = ctx.obj
    if url_flag:
        raise JobsCommandError(f"'{ref}' names daemon '{name}'; leave out --url (or the name)")
    [target] = resolve_daemons([name], token_flag=token_flag, env=os.environ)
    return ctx.with_resource(VpoClient(target.url, target.token)), job_id


class FollowPace:
    """How long `wait` and `logs -f` sleep between polls: `--interval`, stretched only by an
    idle daemon's X-Poll-Interval hint (the rule of vpo/poll_hint.py, shared with the TUI and
    the web page). While the followed job is queued or running the daemon is busy by
    definition, so in practice the user's interval holds; the daemon's own interval, the hint's
    yardstick, is asked for only if a hint longer than `--interval` ever arrives."""

    def __init__(self, client: VpoClient, interval_s: float) -> None:
        self.client = client
        self.interval_ms = round(interval_s * 1000)
        self.hint_ms: int | None = None
        self._busy_interval_ms: int | None = None

    def note(self, hint_ms: int | None) -> None:
        self.hint_ms = hint_ms

    def seconds(self) -> float:
        hint = self.hint_ms
        if hint is None or hint <= self.interval_ms:
            return self.interval_ms / 1000
        from vpo.config import polling_rules  # only on this rare path

        rules = polling_rules()
        if self._busy_interval_ms is None:
            try:
                configured = self.client.polling_config().get("interval_ms")
            except VpoError:
                configured = None  # an older daemon: take no chances, treat the hint as busy
            self._busy_interval_ms = configured if isinstance(configured, int) else hint
        max_ms = rules["interval_ms"]["max"]
        return hinted_interval_ms(self.interval_ms, hint, self._busy_interval_ms, max_ms) / 1000


def _print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


def interval_option(help_text: str) -> Callable[[F], F]:
    """`--interval` of the commands that poll: at least 0.2 s, so no loop hammers the daemon."""
    return click.option(
        "--interval", type=click.FloatRange(min=0.2), default=1.0, show_default=True, help=help_text
    )


@click.group()
@click.option(
    "--url",
    metavar="URL",
    help="Daemon URL (default: $VPO_URL, else server.bind/port from the config file, "
    "else http://127.0.0.1:8321).",
)
@click.option(
    "--token",
    metavar="TOKEN",
    help="API token (default: $VPO_TOKEN, else server.auth_token from the config file).",
)
@click.option(
    "--daemon",
    metavar="NAME",
    help="A named daemon of the client config (default: $VPO_DAEMON, else its default); "
    "--url and $VPO_URL still win. See `vpo daemons`.",
)
@click.pass_context
def jobs(ctx: click.Context, url: str | None, token: str | None, daemon: str | None) -> None:
    """List, inspect, follow, cancel, retry and wait for the daemon's jobs."""
    ctx.obj = (url, token, daemon)


@jobs.command("list")
@click.option("--status", help="Only jobs with this status (queued, running, completed, ...).")
@click.option("--type", "job_type", help="Only jobs of this type (e.g. scan).")
@click.option("--since", help="Only jobs created within this window: 24h, 7d or 30d.")
@click.option("--search", help="Only jobs whose target path contains this text.")
@click.option("--sort", help="created_at, job_type, status, file_path or duration.")
@click.option("--order", type=click.Choice(["asc", "desc"]), help="Sort order (default desc).")
@click.option("--limit", type=int, help="Jobs per page, 1-100 (default 50).")
@click.option("--offset", type=int, help="Skip this many jobs (paging).")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON page.")
@click.option(
    "--all",
    "every_daemon",
    is_flag=True,
    help="Every named daemon of the client config in one list, with a DAEMON column "
    "(--json: each job has a 'daemon' field).",
)
@click.pass_context
@reports_errors()
def list_command(ctx: click.Context, as_json: bool, every_daemon: bool, **filters: Any) -> None:
    """List jobs, newest first."""
    if every_daemon:
        _list_every_daemon(ctx, as_json, filters)
        return
    # The options above are named as JobListParams' fields: status, job_type, ... offset.
    page = _client(ctx).list_jobs(JobListParams(**filters)).value()
    if as_json:
        _print_json(asdict(page))
        return
    if not page.jobs:
        click.echo("no jobs match these filters" if page.has_filters else "no jobs yet")
        return
    table_console().print(jobs_table(page.jobs))
    first = page.offset + 1
    last = page.offset + len(page.jobs)
    # stdout is for rows (a pipe to grep or wc sees jobs only); where the page sits is for people.
    click.echo(f"{first}-{last} of {page.total} jobs", err=True)


def _list_every_daemon(ctx: click.Context, as_json: bool, filters: dict[str, Any]) -> None:
    """`list --all`: each daemon's first offset+limit jobs, asked at once, merged in the sort
    order the daemons use; a daemon that fails is named on stderr (exit 1), the rest listed."""
    url_flag, token_flag, _daemon_flag = ctx.obj
    if url_flag:
        raise JobsCommandError("--all lists the named daemons; leave out --url")
    targets = resolve_daemons([], every=True, token_flag=token_flag, env=os.environ)
    limit = 50 if filters.get("limit") is None else filters["limit"]
    offset = 0 if filters.get("offset") is None else filters["offset"]
    if offset < 0 or limit < 1 or offset + limit > MAX_PAGE:
        raise JobsCommandError(
            f"with --all, --limit must be at least 1 and --offset + --limit at most {MAX_PAGE}"
        )
    params = JobListParams(**{**filters, "limit": offset + limit, "offset": 0})

    def ask(target: DaemonTarget) -> Any:
        try:
            with VpoClient(target.url, target.token) as client:
                return client.list_jobs(params).value()
        except VpoError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=min(8, len(targets))) as pool:
        answers = list(pool.map(ask, targets))
    pages = [(t.name or t.url, a) for t, a in zip(targets, answers, strict=True)]
    good = [(name, page) for name, page in pages if not isinstance(page, VpoError)]
    failed = [(name, error) for name, error in pages if isinstance(error, VpoError)]
    merged = merge_jobs(
        [(name, page.jobs) for name, page in good],
        filters.get("sort") or "created_at",
        filters.get("order") or "desc",
    )[offset : offset + limit]
    total = sum(page.total for _name, page in good)
    if as_json:
        _print_json(
            {
                "jobs": [{**job, "daemon": name} for name, job in merged],
                "total": total,
                "limit": limit,
                "offset": offset,
                "daemons": [
                    {"name": t.name, "url": t.url, "reachable": not isinstance(a, VpoError)}
                    for t, a in zip(targets, answers, strict=True)
                ],
            }
        )
    elif not merged:
        filtered = any(page.has_filters for _name, page in good)
        click.echo("no jobs match these filters" if filtered else "no jobs yet")
    else:
        console = table_console()
        console.print(jobs_table([job for _n, job in merged], [name for name, _j in merged]))
        console.print(
            f"{offset + 1}-{offset + len(merged)} of {total} jobs on {len(good)} daemons",
            style="dim",
        )
    for name, error in failed:
        click.echo(f"Error: daemon '{name}': {error}", err=True)
    if failed:
        sys.exit(EXIT_ERROR)


@jobs.command("show")
@click.argument("job_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON for the job.")
@click.pass_context
@reports_errors()
def show_command(ctx: click.Context, job_id: str, as_json: bool) -> None:
    """Show one job (ID may be the 8-character short id)."""
    client, job_id = _client_for(ctx, job_id)
    job = client.get_job(client.resolve_job_id(job_id)).value()
    if as_json:
        _print_json(job)
        return
    click.echo(f"job {job.get('id')}")
    width = max(len(name) for name, _ in job_detail_rows(job))
    for name, value in job_detail_rows(job):
        click.echo(f"  {name.ljust(width)}  {value}")


def _print_log_lines(client: VpoClient, job_id: str, offset: int, cache: dict[str, Any]) -> int:
    """Print every log line from `offset` on; return the offset after the last printed line.

    `cache` holds the ETag of the last empty answer, so an idle follow costs a 304 per poll.
    """
    while True:
        etag = cache.get("etag") if cache.get("offset") == offset else None
        result = client.get_logs(job_id, lines=LOG_PAGE_LINES, offset=offset, etag=etag)
        if result.not_modified or result.data is None:
            return offset
        page = result.data
        for line in page.lines:
            click.echo(visible(line))
        cache["offset"], cache["etag"] = page.offset + len(page.lines), result.etag
        offset = page.offset + len(page.lines)
        if not page.has_more or not page.lines:
            return offset


@jobs.command("logs")
@click.argument("job_id", metavar="ID")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines until the job ends.")
@click.option(
    "--lines", "-n", "last_lines", type=click.IntRange(min=0), help="Start with the last N lines."
)
@interval_option("Seconds between polls with --follow.")
@click.pass_context
@reports_errors()
def logs_command(
    ctx: click.Context, job_id: str, follow: bool, last_lines: int | None, interval: float
) -> None:
    """Print a job's log; with --follow, keep printing new lines until the job ends."""
    client, job_id = _client_for(ctx, job_id)
    job_id = client.resolve_job_id(job_id)
    offset = 0
    if last_lines is not None:
        head = client.get_logs(job_id, lines=1, offset=0).value()
        offset = max(0, head.total_lines - last_lines)
    cache: dict[str, Any] = {}
    if not follow:
        _print_log_lines(client, job_id, offset, cache)
        return
    pace = FollowPace(client, interval)
    while True:
        # Status first, then the lines: when the job is terminal, this drain is the final
        # fetch and sees every line the job ever wrote.
        answer = client.get_job(job_id)
        pace.note(answer.poll_interval_ms)
        job = answer.value()
        offset = _print_log_lines(client, job_id, offset, cache)
        if is_terminal(job):
            return
        time.sleep(pace.seconds())


@jobs.command("errors")
@click.argument("job_id", metavar="ID")
@click.option("--limit", type=int, default=50, show_default=True, help="Errors per page, 1-100.")
@click.option("--offset", type=int, default=0, show_default=True, help="Skip this many errors.")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON page.")
@click.pass_context
@reports_errors()
def errors_command(ctx: click.Context, job_id: str, limit: int, offset: int, as_json: bool) -> None:
    """List the files a scan could not read or probe, with the reason."""
    client, job_id = _client_for(ctx, job_id)
    page = client.get_errors(client.resolve_job_id(job_id), limit=limit, offset=offset)
    if as_json:
        _print_json(page)
        return
    errors = page.get("errors", [])
    for error in errors:
        path = path_label(error.get("path"), error.get("path_is_utf8"))
        click.echo(f"{path}: {visible(error.get('message'))}")
    total = page.get("total", len(errors))
    if not errors:
        click.echo("no errors" if total == 0 else f"no errors on this page ({total} in all)")
    elif total > len(errors):
        shown = f"{page.get('offset', 0) + 1}-{page.get('offset', 0) + len(errors)}"
        click.echo(f"{shown} of {total} errors", err=True)


@jobs.command("cancel")
@click.argument("job_id", metavar="ID")
@click.pass_context
@reports_errors()
def cancel_command(ctx: click.Context, job_id: str) -> None:
    """Cancel a queued job now, or ask a running job to stop at its next file."""
    client, job_id = _client_for(ctx, job_id)
    job = client.cancel_job(client.resolve_job_id(job_id))
    short = job.get("id_short") or str(job.get("id", ""))[:8]
    if is_terminal(job):
        click.echo(f"job {short} {job.get('status')}")
    else:
        click.echo(f"cancel requested for job {short} ({job.get('status')}); it stops shortly")


@jobs.command("retry")
@click.argument("job_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON for the new job.")
@click.pass_context
@reports_errors()
def retry_command(ctx: click.Context, job_id: str, as_json: bool) -> None:
    """Queue a failed, cancelled or completed job again; print the new job's id."""
    client = _client(ctx)
    job = client.retry_job(client.resolve_job_id(job_id))
    if as_json:
        _print_json(job)
        return
    click.echo(job.get("id"))


def _finish_wait(job: dict[str, Any]) -> NoReturn:
    click.echo(job_outcome_line(job))
    sys.exit(WAIT_EXIT_CODES.get(str(job.get("status")), EXIT_FAILED))


@jobs.command("wait")
@click.argument("job_id", metavar="ID")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    help="Give up after this many seconds (exit 3). Default: wait as long as it takes.",
)
@interval_option("Seconds between status checks.")
@click.pass_context
@reports_errors(exit_code=EXIT_WAIT_ERROR)
def wait_command(ctx: click.Context, job_id: str, timeout: float | None, interval: float) -> None:
    """Wait for a job to end. Exit 0 completed, 1 failed, 2 cancelled, 3 timeout, 4 error."""
    client, job_id = _client_for(ctx, job_id)
    job_id = client.resolve_job_id(job_id)
    deadline = None if timeout is None else time.monotonic() + timeout
    job: dict[str, Any] | None = None
    etag: str | None = None
    pace = FollowPace(client, interval)
    while True:
        result = client.get_job(job_id, etag=etag)
        pace.note(result.poll_interval_ms)
        if not result.not_modified:
            job, etag = result.data, result.etag
        if job is None:
            raise ApiError(500, "INVALID_RESPONSE", "the daemon sent no job data")
        if is_terminal(job):
            _finish_wait(job)
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                short = job.get("id_short") or job_id[:8]
                progress = progress_text(job)
                state = f"{job.get('status')}, {progress}" if progress else job.get("status")
                click.echo(f"timed out after {timeout:g}s waiting for job {short} ({state})")
                sys.exit(EXIT_TIMEOUT)
            time.sleep(min(pace.seconds(), remaining))
        else:
            time.sleep(pace.seconds())
