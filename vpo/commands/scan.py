"""`vpo scan PATH...`: scan in the foreground with a progress bar, or hand the scan to the daemon.

Foreground, with a daemon reachable at the configured URL: the scan is submitted to it (one job
per PATH) and followed under the polling rules, so the result lands where the daemon and its
clients look. Ctrl+C detaches: the scan goes on, and the message says how to cancel it.

Foreground in this process (`--local`, or no daemon answering): the scan is recorded as a job
row (running, owned by this process) and run by the same runner the daemon uses, so it shows up
in `vpo jobs`, the web page and the TUI like any other job. Ctrl+C asks the scan to stop at the
next file boundary; the job ends `cancelled`, never `running`. A second Ctrl+C interrupts at
once (the job still ends `cancelled`). `--local` warns when a daemon answers but keeps its jobs
in another database (compared by the `store_id` of `/health`).

Exit codes: 0 completed, 1 failed (or any error), 2 a bad path (the same with and without
--async) or cancelled by a request from elsewhere (`vpo jobs cancel`), 130 Ctrl+C (143 SIGTERM).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Any

import click
from click.shell_completion import CompletionItem
from rich.console import Console
from rich.progress import (
    BarColumn,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.progress import (
    Progress as RichProgress,
)
from rich.text import Text

from vpo.client import ApiError, DaemonUnreachable, VpoClient, VpoError
from vpo.client_settings import client_settings
from vpo.config import ConfigError, Settings, load_settings, polling_rules
from vpo.jobs import CANCELLED, COMPLETED, FAILED, RUNNING, SCAN, Job, utc_now
from vpo.jobtext import is_terminal
from vpo.pathtext import not_utf8_note, visible
from vpo.runner import run_job
from vpo.scan import Progress
from vpo.store import JobStore, StoreError

EXIT_COMPLETED, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_CANCELLED = 2  # cancelled from elsewhere; the same code `vpo jobs wait` uses
ERRORS_SHOWN = 10
EXIT_CODES = {COMPLETED: EXIT_COMPLETED, FAILED: EXIT_FAILED, CANCELLED: EXIT_CANCELLED}
EXIT_DETACHED = 130  # Ctrl+C while following a daemon's scan: it goes on there
# How long `vpo scan` waits for /health before deciding no daemon is there: a daemon on this
# machine answers in milliseconds, and a missing one refuses the connection at once.
PROBE_TIMEOUT = 2.0


class ScanCommandError(click.ClickException):
    """A one-line failure ("Error: ..." on stderr) with a chosen exit code."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


# --------------------------------------------------------------------------------------------
# Path checks (before anything is written, so a bad path leaves no job row behind)


def checked_roots(paths: tuple[str, ...]) -> list[str]:
    """Absolute paths of the roots to scan; raises ScanCommandError naming the first bad one."""
    roots: list[str] = []
    for raw in paths:
        path = os.path.abspath(os.path.expanduser(raw))
        if not os.path.exists(path):
            raise ScanCommandError(f"no such directory: {visible(raw)}", EXIT_USAGE)
        if not os.path.isdir(path):
            raise ScanCommandError(f"not a directory: {visible(raw)}", EXIT_USAGE)
        if not os.access(path, os.R_OK | os.X_OK):
            raise ScanCommandError(f"cannot read directory: {visible(raw)}", EXIT_USAGE)
        if path not in roots:
            roots.append(path)
    return roots


# --------------------------------------------------------------------------------------------
# Progress display


class RateColumn(ProgressColumn):
    """Files per second within the current phase (rich measures it from recent updates)."""

    def render(self, task: Any) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} files/s" if speed else "", style="cyan")


class CountColumn(ProgressColumn):
    """`n of m` once the phase's total is known, `n` before."""

    def render(self, task: Any) -> Text:
        done = int(task.completed)
        return Text(f"{done:,} of {int(task.total):,}" if task.total is not None else f"{done:,}")


class ScanProgressBar:
    """A rich progress bar on stderr fed by the scan's progress callback (any thread)."""

    def __init__(self, console: Console) -> None:
        self._progress = RichProgress(
            TextColumn("[bold]{task.description:<8}"),
            BarColumn(),
            CountColumn(),
            RateColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._task = self._progress.add_task("start", total=None)
        self._phase: str | None = None
        self._lock = threading.Lock()

    def update(self, progress: Progress) -> None:
        with self._lock:
            if progress.phase != self._phase:
                self._phase = progress.phase
                self._progress.reset(
                    self._task, total=progress.phase_total, completed=0, description=progress.phase
                )
            self._progress.update(
                self._task, completed=progress.phase_done, total=progress.phase_total
            )

    def __enter__(self) -> ScanProgressBar:
        self._progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._progress.stop()


# --------------------------------------------------------------------------------------------
# Signals


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[dict[str, int]]:
    """First SIGINT/SIGTERM: ask the scan to stop at the next file boundary. Second: interrupt.

    Yields a dict that holds the signal number that asked to stop, if any.
    """
    received: dict[str, int] = {}
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handle(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        received["signal"] = signum
        stop.set()

    for sig in previous:
        signal.signal(sig, handle)
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# --------------------------------------------------------------------------------------------
# Output


def print_outcome(
    detail: dict[str, Any], errors: list[dict[str, Any]], errors_total: int, as_json: bool
) -> None:
    """How a scan ended, from the API's shapes (a job's detail, error items), whether it ran
    here or in the daemon: `--json` prints the detail with `errors` and `errors_total`."""
    if as_json:
        body = {**detail, "errors": errors, "errors_total": errors_total}
        click.echo(json.dumps(body, indent=2, sort_keys=True))
        return
    duration = detail.get("duration_seconds")
    took = f" in {duration} s" if duration is not None else ""
    status = detail.get("status")
    if status == COMPLETED:
        click.echo(f"Scan completed{took}. {detail.get('summary') or ''}".rstrip())
    elif status == CANCELLED:
        total = detail.get("total_count")
        done = f"{detail.get('processed_count', 0)} of {total}" if total else "no"
        click.echo(f"Scan cancelled{took}: {done} files done.")
    else:
        reason = detail.get("error_message") or "no reason given"
        click.echo(f"Scan {status}{took}: {visible(reason)}")
    for error in errors:
        note = not_utf8_note(error.get("path_is_utf8"))
        path = visible(error.get("path"))
        click.echo(
            f"  error: {f'{path} ({note})' if note else path}: {visible(error.get('message'))}"
        )
    if errors_total > len(errors):
        click.echo(f"  ... and {errors_total - len(errors)} more errors")
    click.echo(f"Job {detail.get('id')}")


# --------------------------------------------------------------------------------------------
# The command


def _run_foreground(
    roots: list[str], full: bool, as_json: bool, data_dir: str | None, daemon: DaemonAddress
) -> tuple[Job, int | None]:
    try:
        settings, _warnings = load_settings({"data_dir": data_dir}, os.environ, check_bind=False)
    except ConfigError as exc:
        raise ScanCommandError(str(exc)) from None
    try:
        store = JobStore(settings.data_dir)
    except (StoreError, OSError) as exc:
        raise ScanCommandError(f"cannot open the data dir {settings.data_dir}: {exc}") from None
    try:
        console = Console(stderr=True)
        if daemon is not None:
            _warn_if_the_daemon_looks_elsewhere(store, daemon)
        stop = threading.Event()
        with stop_on_signals(stop) as received:
            target = roots[0] if len(roots) == 1 else ", ".join(roots)
            job = store.create_job(
                SCAN, target, params={"paths": roots, "full": full}, status=RUNNING
            )
            if not as_json:
                console.print(
                    f"Scanning {visible(target)} (job {job.id_short})",
                    highlight=False,
                    markup=False,
                )
            try:
                if console.is_terminal:
                    with ScanProgressBar(console) as bar:
                        final = _run(store, job, settings, stop, bar.update)
                else:
                    final = _run(store, job, settings, stop, None)
            except KeyboardInterrupt:
                # The runner has already ended the job as cancelled.
                final = store.get_job(job.id) or job
                received.setdefault("signal", signal.SIGINT)
        errors, errors_total = store.file_errors(final.id, limit=ERRORS_SHOWN, offset=0)
        detail = final.to_detail_dict(utc_now(), has_logs=True, errors_count=errors_total)
        print_outcome(detail, [error.to_dict() for error in errors], errors_total, as_json)
        return final, received.get("signal")
    except StoreError as exc:
        # A write the store refused (a full disk): one line, no traceback. A job whose end
        # could not be written is left to the daemon's orphan recovery, as after a kill.
        raise ScanCommandError(f"cannot record the scan: {exc}") from None
    finally:
        store.close()


def _run(
    store: JobStore, job: Job, settings: Settings, stop: threading.Event, on_progress: Any
) -> Job:
    return run_job(
        store,
        job,
        probe_concurrency=settings.probe_concurrency,
        extensions=settings.extensions,
        cancel_event=stop,
        on_progress=on_progress,
    )


@dataclass(frozen=True)
class DaemonAddress:
    """Where this command finds the daemon: the URL and token by the client rules."""

    url: str
    token: str | None


def daemon_address(url: str | None, token: str | None, data_dir: str | None) -> DaemonAddress:
    env = dict(os.environ)
    if data_dir:
        env["VPO_DATA_DIR"] = data_dir  # where the daemon's config (bind, port, token) lives
    try:
        base_url, found_token = client_settings(url, token, env)
    except VpoError as exc:
        raise ScanCommandError(str(exc)) from None
    return DaemonAddress(base_url, found_token)


def _daemon_health(daemon: DaemonAddress) -> dict[str, Any] | None:
    """The daemon's /health fields, or None when nothing answers at its URL. A daemon that
    answers with an error (stopping, degraded) is there all the same: its fields come from the
    error's details."""
    try:
        with VpoClient(daemon.url, daemon.token, timeout=PROBE_TIMEOUT) as client:
            return client.health()
    except DaemonUnreachable:
        return None
    except ApiError as exc:
        return exc.details


def _warn_if_the_daemon_looks_elsewhere(store: JobStore, daemon: DaemonAddress) -> None:
    """`--local` while a daemon answers: warn when it keeps its jobs in another database, since
    it (and every client of it) will never see this scan."""
    health = _daemon_health(daemon)
    if not health or not health.get("store_id"):
        return  # no daemon, or one too old to say which database it uses
    if health["store_id"] != store.store_id():
        # click, not rich: a message someone copies from must not be folded at 80 columns.
        click.echo(
            f"Warning: the daemon at {daemon.url} uses another data dir than {store.data_dir}; "
            "it will not see this scan. Drop --local to scan through the daemon.",
            err=True,
        )


def _exit_code_of(exc: ApiError) -> int:
    """A path the daemon refused (missing, not a directory, outside its scan roots) is a bad
    path like one refused here: exit 2, with or without --async."""
    if exc.details.get("parameter") == "path" and exc.status in (400, 403):
        return EXIT_USAGE
    return EXIT_FAILED


def _submit_all(client: VpoClient, paths: tuple[str, ...], full: bool) -> list[dict[str, Any]]:
    submitted: list[dict[str, Any]] = []
    try:
        for raw in paths:
            # The daemon resolves paths on its side; send what this shell means.
            path = os.path.abspath(os.path.expanduser(raw))
            submitted.append(client.submit_scan(path, full=full))
    except ApiError as exc:
        if submitted:
            ids = ", ".join(job["id"] for job in submitted)
            raise ScanCommandError(
                f"{exc.message} (already queued: {ids})", _exit_code_of(exc)
            ) from None
        raise ScanCommandError(exc.message, _exit_code_of(exc)) from None
    except VpoError as exc:
        raise ScanCommandError(str(exc)) from None
    return submitted


def _submit(paths: tuple[str, ...], full: bool, as_json: bool, daemon: DaemonAddress) -> None:
    submitted: list[dict[str, Any]] = []
    try:
        with VpoClient(daemon.url, daemon.token) as client:
            submitted = _submit_all(client, paths, full)
    finally:
        # Jobs already queued are real: say so even when a later path was refused.
        if not as_json:
            for job in submitted:
                click.echo(job["id"])
    if as_json:
        click.echo(json.dumps({"jobs": submitted}, indent=2, sort_keys=True))


# --------------------------------------------------------------------------------------------
# Following a scan the daemon runs


def poll_delay(failures: int, interval_s: float, rules: dict[str, Any]) -> float:
    """Seconds before the next poll: the daemon's interval, and after repeated failures the
    backoff of the polling rules (vpo/polling_rules.json, docs/design.md §7)."""
    backoff = rules["backoff"]
    if failures < backoff["failures_before_backoff"]:
        return interval_s
    steps = min(failures - backoff["failures_before_backoff"], 16)
    delay_ms = backoff["initial_delay_ms"] * backoff["multiplier"] ** steps
    return min(delay_ms, backoff["max_delay_ms"]) / 1000


def _poll_interval(client: VpoClient, rules: dict[str, Any]) -> float:
    try:
        wanted = client.polling_config().get("interval_ms", rules["interval_ms"]["default"])
    except VpoError:
        wanted = rules["interval_ms"]["default"]
    low, high = rules["interval_ms"]["min"], rules["interval_ms"]["max"]
    return min(max(float(wanted), low), high) / 1000


def _progress_of(job: dict[str, Any]) -> Progress:
    return Progress(
        phase=job.get("phase") or str(job.get("status")),
        processed=job.get("processed_count") or 0,
        total=job.get("total_count"),
        percent=job.get("progress_percent"),
        phase_done=job.get("processed_count") or 0,
        phase_total=job.get("total_count"),
    )


def follow(
    client: VpoClient, job: dict[str, Any], console: Console, interval_s: float
) -> dict[str, Any]:
    """Poll one job until it ends (ETag: a 304 costs the daemon nothing); its final detail.
    Failures back off by the polling rules and never end the follow: the daemon may restart."""
    rules = polling_rules()
    etag: str | None = None
    failures = 0
    bar = ScanProgressBar(console) if console.is_terminal else None
    try:
        if bar is not None:
            bar.__enter__()
        while not is_terminal(job):
            time.sleep(poll_delay(failures, interval_s, rules))
            try:
                result = client.get_job(job["id"], etag=etag)
            except DaemonUnreachable:
                failures += 1
                continue
            except ApiError as exc:
                if exc.status < 500:
                    raise
                failures += 1
                continue
            failures = 0
            if not result.not_modified and result.data is not None:
                job, etag = result.data, result.etag
                if bar is not None:
                    bar.update(_progress_of(job))
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    return job


def _run_on_daemon(client: VpoClient, paths: tuple[str, ...], full: bool, as_json: bool) -> int:
    """Submit one job per path, follow each to its end, print the outcomes; the exit code."""
    console = Console(stderr=True)
    jobs = _submit_all(client, paths, full)
    interval_s = _poll_interval(client, polling_rules())
    finals: list[dict[str, Any]] = []
    current: dict[str, Any] = jobs[0]
    try:
        for job in jobs:
            current = job
            if not as_json:
                target = visible(job.get("file_path"))
                click.echo(
                    f"Scanning {target} in the daemon at {client.base_url} (job {job['id_short']})",
                    err=True,
                )
            finals.append(follow(client, job, console, interval_s))
    except KeyboardInterrupt:
        pending = [job for job in jobs[len(finals) :]] or [current]
        click.echo(
            "\nDetached: the scan goes on in the daemon. Cancel it with: "
            + "; ".join(f"vpo jobs cancel {job['id']}" for job in pending),
            err=True,
        )
        return EXIT_DETACHED
    except VpoError as exc:
        raise ScanCommandError(str(exc)) from None
    outcomes = []
    for final in finals:
        page = client.get_errors(final["id"], limit=ERRORS_SHOWN)
        outcomes.append((final, page.get("errors", []), int(page.get("total", 0))))
    if as_json and len(outcomes) > 1:
        bodies = [{**d, "errors": e, "errors_total": t} for d, e, t in outcomes]
        click.echo(json.dumps({"jobs": bodies}, indent=2, sort_keys=True))
    else:
        for detail, errors, total in outcomes:
            print_outcome(detail, errors, total, as_json)
    return max(EXIT_CODES.get(str(d.get("status")), EXIT_FAILED) for d, _, _ in outcomes)


def complete_directory(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Tab completion of a directory: the shell lists them itself, so a name that is not UTF-8
    completes as it is on disk (the arguments stay plain strings, not click.Path)."""
    return [CompletionItem(incomplete, type="dir")]


@click.command()
@click.argument("paths", nargs=-1, required=True, shell_complete=complete_directory)
@click.option("--full", is_flag=True, help="Hash and probe every file, changed or not.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
@click.option(
    "--data-dir",
    metavar="DIR",
    shell_complete=complete_directory,
    help="Where vpo.db and the job logs live [$VPO_DATA_DIR, ~/.vpo].",
)
@click.option(
    "--async",
    "submit_async",
    is_flag=True,
    help="Queue the scan on the running daemon, print the job ids and return.",
)
@click.option(
    "--local",
    is_flag=True,
    help="Scan in this process, into the data dir, even when a daemon is running.",
)
@click.option("--url", metavar="URL", help="The daemon's URL [$VPO_URL].")
@click.option("--token", metavar="TOKEN", help="The daemon's auth token [$VPO_TOKEN].")
def scan(
    paths: tuple[str, ...],
    full: bool,
    as_json: bool,
    data_dir: str | None,
    submit_async: bool,
    local: bool,
    url: str | None,
    token: str | None,
) -> None:
    """Scan PATH... for videos: record files, hashes and streams; mark vanished files missing.

    With a daemon running, the scan is sent to it and followed with a progress bar (Ctrl+C
    detaches; the scan goes on). Without one, or with --local, it runs in this process. With
    --async it is queued on the daemon (one job per PATH) and the job ids are printed.
    """
    if submit_async and local:
        raise click.UsageError("--async and --local exclude each other.")
    try:
        daemon: DaemonAddress | None = daemon_address(url, token, data_dir)
    except ScanCommandError:
        if not local:
            raise
        daemon = None  # a local scan needs no daemon; a bad URL only means no warning
    if submit_async and daemon is not None:
        _submit(paths, full, as_json, daemon)
        return
    if not local and daemon is not None and _daemon_health(daemon) is not None:
        with VpoClient(daemon.url, daemon.token) as client:
            sys.exit(_run_on_daemon(client, paths, full, as_json))
    roots = checked_roots(paths)
    job, signum = _run_foreground(roots, full, as_json, data_dir, daemon)
    if signum is not None and job.status == CANCELLED:
        sys.exit(128 + signum)
    sys.exit(EXIT_CODES.get(job.status, EXIT_FAILED))
