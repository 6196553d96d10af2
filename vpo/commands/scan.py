"""`vpo scan PATH...`: scan in the foreground with a progress bar, or hand the scan to the daemon.

Foreground: the scan is recorded as a job row (running, owned by this process) and run by the
same runner the daemon uses, so it shows up in `vpo jobs`, the web page and the TUI like any
other job. Ctrl+C asks the scan to stop at the next file boundary; the job ends `cancelled`,
never `running`. A second Ctrl+C interrupts at once (the job still ends `cancelled`).

Exit codes: 0 completed, 1 failed (or any error), 2 a bad path or cancelled by a request from
elsewhere (`vpo jobs cancel`), 130 Ctrl+C (143 SIGTERM).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
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

from vpo.client import ApiError, VpoClient, VpoError
from vpo.client_settings import client_settings
from vpo.config import ConfigError, Settings, load_settings
from vpo.jobs import CANCELLED, COMPLETED, FAILED, RUNNING, SCAN, Job, utc_now
from vpo.pathtext import is_utf8, not_utf8_note, visible
from vpo.runner import run_job
from vpo.scan import Progress
from vpo.store import JobStore, StoreError

EXIT_COMPLETED, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_CANCELLED = 2  # cancelled from elsewhere; the same code `vpo jobs wait` uses
ERRORS_SHOWN = 10


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


def _print_outcome(job: Job, errors: list[Any], errors_total: int, as_json: bool) -> None:
    now = utc_now()
    if as_json:
        body = job.to_detail_dict(now, has_logs=True, errors_count=errors_total)
        body["errors"] = [error.to_dict() for error in errors]
        body["errors_total"] = errors_total
        click.echo(json.dumps(body, indent=2, sort_keys=True))
        return
    duration = job.duration_seconds(now)
    took = f" in {duration} s" if duration is not None else ""
    if job.status == COMPLETED:
        click.echo(f"Scan completed{took}. {job.summary or ''}".rstrip())
    elif job.status == CANCELLED:
        done = f"{job.processed_count} of {job.total_count}" if job.total_count else "no"
        click.echo(f"Scan cancelled{took}: {done} files done.")
    else:
        click.echo(f"Scan {job.status}{took}: {visible(job.error_message or 'no reason given')}")
    for error in errors:
        note = not_utf8_note(is_utf8(error.path))
        path = f"{visible(error.path)} ({note})" if note else visible(error.path)
        click.echo(f"  error: {path}: {visible(error.message)}")
    if errors_total > len(errors):
        click.echo(f"  ... and {errors_total - len(errors)} more errors")
    click.echo(f"Job {job.id}")


# --------------------------------------------------------------------------------------------
# The command


def _run_foreground(
    roots: list[str], full: bool, as_json: bool, data_dir: str | None
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
        _print_outcome(final, errors, errors_total, as_json)
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


def _submit(
    paths: tuple[str, ...],
    full: bool,
    as_json: bool,
    url: str | None,
    token: str | None,
    data_dir: str | None,
) -> None:
    env = dict(os.environ)
    if data_dir:
        env["VPO_DATA_DIR"] = data_dir  # where the daemon's config (bind, port, token) lives
    base_url, token = client_settings(url, token, env)
    submitted: list[dict[str, Any]] = []
    try:
        with VpoClient(base_url, token) as client:
            for raw in paths:
                # The daemon resolves paths on its side; send what this shell means.
                path = os.path.abspath(os.path.expanduser(raw))
                submitted.append(client.submit_scan(path, full=full))
    except ApiError as exc:
        raise ScanCommandError(exc.message) from None
    except VpoError as exc:
        raise ScanCommandError(str(exc)) from None
    finally:
        # Jobs already queued are real: say so even when a later path was refused.
        if not as_json:
            for job in submitted:
                click.echo(job["id"])
    if as_json:
        click.echo(json.dumps({"jobs": submitted}, indent=2, sort_keys=True))


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
@click.option("--async", "submit_async", is_flag=True, help="Queue the scan on the running daemon.")
@click.option("--url", metavar="URL", help="The daemon's URL, with --async [$VPO_URL].")
@click.option(
    "--token", metavar="TOKEN", help="The daemon's auth token, with --async [$VPO_TOKEN]."
)
def scan(
    paths: tuple[str, ...],
    full: bool,
    as_json: bool,
    data_dir: str | None,
    submit_async: bool,
    url: str | None,
    token: str | None,
) -> None:
    """Scan PATH... for videos: record files, hashes and streams; mark vanished files missing.

    Runs in the foreground with a progress bar, or with --async queues one job per PATH on the
    running daemon and prints the job ids.
    """
    if submit_async:
        _submit(paths, full, as_json, url, token, data_dir)
        return
    roots = checked_roots(paths)
    job, signum = _run_foreground(roots, full, as_json, data_dir)
    if signum is not None and job.status == CANCELLED:
        sys.exit(128 + signum)
    exit_codes = {COMPLETED: EXIT_COMPLETED, FAILED: EXIT_FAILED, CANCELLED: EXIT_CANCELLED}
    sys.exit(exit_codes.get(job.status, EXIT_FAILED))
