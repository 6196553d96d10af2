"""Runs one claimed job to its end: log file, cancel checks, errors, final status.

Both the foreground `vpo scan` and the daemon's worker call `run_job`, so a job ends the same way
wherever it runs: `completed`, `failed` with a message, or `cancelled`; never left `running`. The
one exception is a daemon shutdown, which puts the job back in the queue to run again later.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING

from vpo.config import DEFAULT_EXTENSIONS
from vpo.joblog import JobLog
from vpo.jobs import CANCELLED, COMPLETED, FAILED, SCAN, Job
from vpo.pathtext import is_utf8
from vpo.scan import Progress, ScanCancelled, ScanOptions, run_scan

if TYPE_CHECKING:
    from vpo.store import JobStore

# How often the cancel flag in the job row is read; file boundaries come far more often than
# this on a fast disk, and a cancel must land within about a second.
CANCEL_POLL_INTERVAL = 0.25

SHUTDOWN_REQUEUE_REASON = "Requeued: the daemon shut down while the job was running."


class CancelCheck:
    """`should_cancel` for a running job: an in-process event, or a cancel requested in the store.

    The store is read at most every `interval` seconds: the scan asks at every file boundary,
    and a read per file would be thousands of queries a second for nothing.
    """

    def __init__(
        self,
        store: JobStore,
        job_id: str,
        events: tuple[threading.Event | None, ...] = (),
        interval: float = CANCEL_POLL_INTERVAL,
    ) -> None:
        self._store = store
        self._job_id = job_id
        self._events = [event for event in events if event is not None]
        self._interval = interval
        self._checked_at = float("-inf")
        self._requested = False
        self._lock = threading.Lock()

    def requested_in_store(self) -> bool:
        """Whether a cancel request was seen in the job row (as of the last read)."""
        return self._requested

    def __call__(self) -> bool:
        if any(event.is_set() for event in self._events):
            return True
        with self._lock:
            if not self._requested and time.monotonic() - self._checked_at >= self._interval:
                self._checked_at = time.monotonic()
                self._requested = self._store.cancel_requested(self._job_id)
            return self._requested


def _scan_options(
    job: Job, probe_concurrency: int, extensions: tuple[str, ...] | None
) -> ScanOptions:
    params = job.params or {}
    paths = params.get("paths") or [job.file_path]
    if not isinstance(paths, list) or not all(isinstance(p, str) and p for p in paths):
        raise ValueError(f"scan job params.paths must be a list of paths, got {paths!r}")
    return ScanOptions(
        roots=paths,
        full=bool(params.get("full", False)),
        probe_concurrency=probe_concurrency,
        extensions=tuple(extensions) if extensions else DEFAULT_EXTENSIONS,
    )


def _failure_message(exc: BaseException) -> str:
    filename = getattr(exc, "filename", None)
    if isinstance(exc, OSError) and isinstance(filename, str) and not is_utf8(filename):
        # OSError quotes the name with repr(), which spells an undecodable byte \udcNN. Keep
        # the name itself: the store and the log write such bytes as \xNN, like everywhere else.
        return f"[Errno {exc.errno}] {exc.strerror}: '{filename}'"
    text = str(exc).strip()
    # Built-in exceptions such as FileNotFoundError already read well; others need their type.
    if isinstance(exc, OSError | ValueError) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def run_job(
    store: JobStore,
    job: Job,
    *,
    probe_concurrency: int = 2,
    extensions: tuple[str, ...] | None = None,
    cancel_event: threading.Event | None = None,
    shutdown_event: threading.Event | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> Job:
    """Run a job that is already `running` (claimed, or created running) and return it after.

    - `cancel_event` set, or a cancel requested in the store: the job ends `cancelled`.
    - `shutdown_event` set (the daemon stopping): the job goes back to `queued` and is
      returned as such; the scan is idempotent, so the next attempt starts over safely.
    - any other exception: `failed`, with the message in `error_message` and the traceback
      in the job's log.
    - KeyboardInterrupt: the job ends `cancelled`, then the interrupt is raised again so the
      caller still exits the way Ctrl+C should.
    """
    should_cancel = CancelCheck(store, job.id, (cancel_event, shutdown_event))
    log = JobLog(store.logs_dir, job.id)
    try:
        log.info(f"Job {job.id} ({job.job_type}) started on {job.file_path}")
        if job.job_type != SCAN:
            message = f"Unknown job type {job.job_type!r}: this version can only run scan jobs."
            log.error(message)
            return store.finish_job(job.id, FAILED, error_message=message)
        try:
            summary = run_scan(
                store,
                job.id,
                _scan_options(job, probe_concurrency, extensions),
                log,
                should_cancel,
                on_progress,
            )
        except ScanCancelled as cancelled:
            shutting_down = (
                shutdown_event is not None
                and shutdown_event.is_set()
                and not (cancel_event is not None and cancel_event.is_set())
                and not store.cancel_requested(job.id)
            )
            if shutting_down:
                log.warning("Daemon shutting down: the job goes back to the queue.")
                store.requeue_job(job.id, SHUTDOWN_REQUEUE_REASON)
                requeued = store.get_job(job.id)
                assert requeued is not None
                return requeued
            log.warning("Job cancelled.")
            return store.finish_job(
                job.id, CANCELLED, error_message="Cancelled.", summary_raw=cancelled.summary
            )
        except KeyboardInterrupt:
            log.warning("Interrupted (Ctrl+C): job cancelled.")
            store.finish_job(job.id, CANCELLED, error_message="Interrupted (Ctrl+C).")
            raise
        except Exception as exc:
            message = _failure_message(exc)
            log.error(f"Job failed: {message}")
            log.error(traceback.format_exc().rstrip())
            return store.finish_job(job.id, FAILED, error_message=message)
        log.info(f"Job completed: {_summary_line(summary)}")
        return store.finish_job(job.id, COMPLETED, summary_raw=summary)
    finally:
        log.close()


def _summary_line(summary: dict) -> str:
    parts = [f"{key} {summary[key]}" for key in ("found", "scanned", "skipped", "added")]
    parts += [f"removed {summary['removed']}", f"errors {summary['errors']}"]
    # probe_skipped is not repeated here: the scan already said it once.
    return ", ".join(parts)
