"""Runs one claimed job to its end: log file, cancel checks, errors, final status.

Both the foreground `vpo scan` and the daemon's worker call `run_job`, so a job ends the same way
wherever it runs: `completed`, `failed` with a message, or `cancelled`; never left `running`. The
one exception is a daemon shutdown, which puts the job back in the queue to run again later.

If the write that ends the job fails (a full disk), `run_job` raises `JobEndNotRecorded` holding
the end it decided, and the caller keeps retrying that write (the daemon's worker does).

What a job's log and `error_message` say is for people: one sentence ("folder no longer exists:
/srv/x"), never an errno or a traceback. Tracebacks of unexpected errors go to the daemon's own
log (logger `vpo.runner`).
"""

from __future__ import annotations

import errno
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from vpo import storage
from vpo.config import DEFAULT_EXTENSIONS
from vpo.joblog import JobLog
from vpo.jobs import CANCELLED, COMPLETED, FAILED, SCAN, Job
from vpo.scan import Progress, ScanCancelled, ScanOptions, run_scan
from vpo.store import CANCELLED_MESSAGE, JobAlreadyTerminal, JobNotFound, JobStore, StoreError

daemon_log = logging.getLogger("vpo.runner")

# How often the cancel flag in the job row is read; file boundaries come far more often than
# this on a fast disk, and a cancel must land within about a second.
CANCEL_POLL_INTERVAL = 0.25

SHUTDOWN_NOTE = "Daemon shutting down: the job goes back to the queue."


@dataclass(frozen=True)
class JobEnd:
    """How a job ended, decided but maybe not yet written: what `finish_job` is called with."""

    job_id: str
    status: str
    error_message: str | None = None
    summary_raw: dict | None = None

    def record(self, store: JobStore) -> Job:
        """Write the end; a job already ended (by a cancel of a queued job, say) stays as is."""
        try:
            return store.finish_job(
                self.job_id,
                self.status,
                error_message=self.error_message,
                summary_raw=self.summary_raw,
            )
        except JobAlreadyTerminal as already:
            return already.job


class JobEndNotRecorded(StoreError):
    """The job ended but the store did not take the write; `end` is what to retry."""

    def __init__(self, end: JobEnd, cause: BaseException, data_dir: Path | None = None) -> None:
        super().__init__(
            f"job {end.job_id} ended {end.status}, but that could not be recorded: "
            f"{describe_failure(cause, data_dir=data_dir)}"
        )
        self.end = end
        self.cause = cause


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


# What an OSError means to someone who did not write the code, by errno; the path follows.
_OS_ERROR_WORDS = {
    errno.ENOENT: "no longer exists",
    errno.ENOTDIR: "not a folder",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EIO: "input/output error (a failing disk or a lost network mount?)",
    errno.ESTALE: "the network mount went away",
    errno.ENAMETOOLONG: "name too long",
    errno.ELOOP: "too many levels of symbolic links",
}


def describe_failure(
    exc: BaseException, *, roots: Iterable[str] = (), data_dir: Path | None = None
) -> str:
    """One human sentence for why a job failed: never an errno number, never a traceback.

    `roots` are the folders the job works on (a missing one is "folder no longer exists"),
    `data_dir` is where the store and logs live (named when the disk is full).
    """
    if storage.is_out_of_space(exc):
        where = f"holding the data dir {data_dir} " if data_dir else ""
        return f"the disk {where}is full"
    if isinstance(exc, OSError):
        path = exc.filename if isinstance(exc.filename, str) else None
        words = _OS_ERROR_WORDS.get(exc.errno or 0) or (exc.strerror or "").strip()
        if exc.errno == errno.ENOENT and path is not None and path in set(roots):
            words = "folder no longer exists"
        if words and path:
            return f"{words}: {path}"
        if words:
            return words
    text = str(exc).strip()
    # Messages of the store and of validation are written as sentences already.
    if isinstance(exc, StoreError | ValueError) and text:
        return text
    # Anything else is a bug: its type helps the report; the traceback is in the daemon log.
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _note(store: JobStore, log: JobLog, level: str, message: str) -> None:
    """Write a line the runner adds about the job itself. A full disk must not keep the job
    from ending, so a failed write only marks the daemon degraded and is said in its log."""
    try:
        log.write(level, message)
    except OSError as exc:
        _log_unwritable(store, log.path, exc)


def _log_unwritable(store: JobStore, path: Path, exc: OSError) -> None:
    _report_if_full(store, exc)
    daemon_log.warning("cannot write the job log %s: %s", path, describe_failure(exc))


def _report_if_full(store: JobStore, exc: BaseException) -> None:
    """A job log that hit a full disk: the daemon is degraded until the worker finds room."""
    if isinstance(exc, OSError) and storage.is_out_of_space(exc):
        store.storage.report(storage.JOB_LOG, f"the disk holding {store.logs_dir} is full")


def _ended(store: JobStore, end: JobEnd) -> Job:
    try:
        return end.record(store)
    except JobNotFound:
        raise  # the row is gone (deleted behind our back): retrying cannot help
    except Exception as exc:
        raise JobEndNotRecorded(end, exc, store.data_dir) from exc


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
      returned as such; the scan is idempotent, so the next attempt starts over safely. A
      cancel requested meanwhile wins: the job ends `cancelled`.
    - any other exception: `failed`, with a human message in `error_message` and the job log;
      the traceback of an unexpected one goes to the daemon log only.
    - KeyboardInterrupt: the job ends `cancelled`, then the interrupt is raised again so the
      caller still exits the way Ctrl+C should.
    - the final write fails: JobEndNotRecorded, carrying the end to retry.
    """
    try:
        log = JobLog(store.logs_dir, job.id)
    except OSError as exc:
        _log_unwritable(store, store.logs_dir / f"{job.id}.log", exc)
        message = f"cannot write the job log: {describe_failure(exc, data_dir=store.data_dir)}"
        return _ended(store, JobEnd(job.id, FAILED, message))
    try:
        return _run_logged(
            store,
            job,
            log,
            probe_concurrency,
            extensions,
            cancel_event,
            shutdown_event,
            on_progress,
        )
    finally:
        log.close()


def _run_logged(
    store: JobStore,
    job: Job,
    log: JobLog,
    probe_concurrency: int,
    extensions: tuple[str, ...] | None,
    cancel_event: threading.Event | None,
    shutdown_event: threading.Event | None,
    on_progress: Callable[[Progress], None] | None,
) -> Job:
    _note(store, log, "INFO", f"Job {job.id} ({job.job_type}) started on {job.file_path}")
    if job.job_type != SCAN:
        message = f"Unknown job type {job.job_type!r}: this version can only run scan jobs."
        _note(store, log, "ERROR", message)
        return _ended(store, JobEnd(job.id, FAILED, message))
    should_cancel = CancelCheck(store, job.id, (cancel_event, shutdown_event))
    try:
        options = _scan_options(job, probe_concurrency, extensions)
        summary = run_scan(store, job.id, options, log, should_cancel, on_progress)
    except ScanCancelled as cancelled:
        shutting_down = (
            shutdown_event is not None
            and shutdown_event.is_set()
            and not (cancel_event is not None and cancel_event.is_set())
            and not store.cancel_requested(job.id)
        )
        if shutting_down:
            # The store cancels instead when a cancel landed after the check above.
            requeued = store.requeue_job(job.id)
            cancelled_meanwhile = requeued.status == CANCELLED
            _note(store, log, "WARN", "Job cancelled." if cancelled_meanwhile else SHUTDOWN_NOTE)
            return requeued
        _note(store, log, "WARN", "Job cancelled.")
        return _ended(store, JobEnd(job.id, CANCELLED, CANCELLED_MESSAGE, cancelled.summary))
    except KeyboardInterrupt:
        _note(store, log, "WARN", "Interrupted (Ctrl+C): job cancelled.")
        _ended(store, JobEnd(job.id, CANCELLED, "Interrupted (Ctrl+C)."))
        raise
    except Exception as exc:
        message = describe_failure(exc, roots=options_roots(job), data_dir=store.data_dir)
        if storage.is_out_of_space(exc):
            message += "; free some space and run the job again"
        _report_if_full(store, exc)  # the scan's own log lines
        _tell_the_daemon_log(job, exc, message)
        _note(store, log, "ERROR", f"Job failed: {message}")
        return _ended(store, JobEnd(job.id, FAILED, message))
    _note(store, log, "INFO", f"Job completed: {_summary_line(summary)}")
    return _ended(store, JobEnd(job.id, COMPLETED, summary_raw=summary))


def options_roots(job: Job) -> list[str]:
    """The folders a job works on, as its params name them (empty if they do not)."""
    paths = (job.params or {}).get("paths")
    return [p for p in paths if isinstance(p, str)] if isinstance(paths, list) else []


def _tell_the_daemon_log(job: Job, exc: BaseException, message: str) -> None:
    """Expected failures (a folder gone, a full disk) get one line in the daemon log; anything
    else is a bug and gets its traceback there, never in the job's log."""
    expected = isinstance(exc, OSError | StoreError | ValueError)
    daemon_log.log(
        logging.WARNING if expected else logging.ERROR,
        "job %s failed: %s",
        job.id,
        message,
        exc_info=None if expected else exc,
    )


def _summary_line(summary: dict) -> str:
    parts = [f"{key} {summary[key]}" for key in ("found", "scanned", "skipped", "added")]
    parts += [f"removed {summary['removed']}", f"errors {summary['errors']}"]
    # probe_skipped is not repeated here: the scan already said it once.
    return ", ".join(parts)
