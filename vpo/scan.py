"""The scan pipeline (docs/design.md §5): discover, skip unchanged, hash, probe, save, mark missing.

This is the only module that decides how files are probed and calls `vpo._core`. Work that
touches the disk runs outside any database transaction: the Rust core walks and hashes with the
GIL released, probing runs in other processes (a pool of PyAV workers, `vpo/probe_pool.py`, or
one ffprobe per file when `av` cannot be imported), and results reach the store in small
batches, each one short write transaction. The store therefore never holds a write lock across
file I/O or a probe.

Progress goes to the job row (throttled, but at least once a second while it changes) and to an
optional callback (every change, for a progress bar). Cancellation is checked at every file
boundary; a cancelled scan saves what it finished and raises `ScanCancelled`.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vpo import _core
from vpo.config import DEFAULT_EXTENSIONS
from vpo.probe_pool import (
    Crashed,
    Failed,
    Outcome,
    Probed,
    ProbePool,
    Rejected,
    TimedOut,
    Unavailable,
)
from vpo.store import ERROR_PROBE, ERROR_READ, ScannedFile, ScannedStream

if TYPE_CHECKING:
    from vpo.joblog import JobLog
    from vpo.store import JobStore, KnownFile


PHASE_DISCOVER, PHASE_HASH, PHASE_PROBE, PHASE_SAVE = "discover", "hash", "probe", "save"

# The probers, best first: PyAV in a pool of worker processes, then one ffprobe per file.
PROBER_AV, PROBER_FFPROBE = "av", "ffprobe"
PROBER_NAMES = {PROBER_AV: "PyAV", PROBER_FFPROBE: "ffprobe"}

AV_NOT_FOUND = "the av package cannot be imported"
PROBER_MISSING_MESSAGE = "no prober (av cannot be imported, ffprobe not found): probing skipped"

# A batch is saved when it holds this many files or is this old, whichever comes first: large
# enough that a 100,000-file scan is a few hundred transactions, small enough that each one is
# a few milliseconds and finished files show up in the store while the scan goes on.
SAVE_BATCH_FILES = 200
SAVE_BATCH_SECONDS = 1.0

# Progress reaches the job row at most this often (each write bumps the row's version, which
# invalidates every client's ETag), and a pending change is written within this time.
PROGRESS_WRITE_INTERVAL = 0.25

# Files handed to the core's hash_files at once (see _Scan.hash).
HASH_BATCH_FILES = 4096

# A changed file's share of work done once it is hashed; probing is the rest. Hashing reads
# 128 KiB in parallel, probing starts a process, so probing dominates.
HASH_SHARE_WHEN_PROBING = 0.2

# The percentage stays below this until the job completes, so clients never see 100 early.
PERCENT_CEILING = 99.9


@dataclass(frozen=True)
class ScanOptions:
    """What to scan and how; built by the runner from the job's params and the config."""

    roots: list[str]
    full: bool = False
    probe_concurrency: int = 2
    probe_timeout: float = 60.0
    extensions: tuple[str, ...] = DEFAULT_EXTENSIONS
    # "auto" (PyAV, else ffprobe), or one of PROBER_AV / PROBER_FFPROBE only: the parity tests
    # and benchmarks/probe.py compare the two; nothing a user configures.
    prober: str = "auto"


@dataclass(frozen=True)
class Progress:
    """One progress report.

    `processed`/`total`/`percent` are for the whole job (what the job row holds: files finished of
    files found). `phase_done`/`phase_total` count within the current phase, for a progress bar
    that shows the phase's own rate.
    """

    phase: str
    processed: int
    total: int | None
    percent: float | None
    phase_done: int = 0
    phase_total: int | None = None


class ScanCancelled(Exception):
    """The scan stopped because cancellation was requested; progress is already stored."""

    def __init__(self, summary: dict[str, Any]) -> None:
        super().__init__("scan cancelled")
        self.summary = summary


class ProbeError(Exception):
    """A file could not be probed (corrupt, unsupported, timed out, crashed the prober)."""


class ProbeRejected(ProbeError):
    """The prober ran and rejected the file's content (FFmpeg refused it, or ffprobe's output
    was not the JSON it promises). Unlike a timeout, the same bytes would give the same answer."""


class ProberUnavailable(ProbeError):
    """This prober cannot run at all (no `av` to import, no ffprobe executable)."""


class FfprobeMissing(ProberUnavailable):
    """There is no ffprobe executable to run."""


class ProbeStopped(Exception):
    """The probe was killed because the scan is being cancelled."""


@dataclass(frozen=True)
class ProbeResult:
    """What the prober reported; a field it leaves out stays None (never guessed)."""

    container: str | None
    duration: float | None
    streams: list[ScannedStream]


# --------------------------------------------------------------------------------------------
# Pure parts: ffprobe output parsing, percentages, incremental decisions


def _optional_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return None
    return None


def _optional_float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)  # ffprobe writes durations as strings ("1.023000") or "N/A"
    except (TypeError, ValueError):
        return None
    return number if number == number and number not in (float("inf"), float("-inf")) else None


def _optional_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def parse_ffprobe_json(text: str) -> ProbeResult:
    """Turn `ffprobe -show_streams -show_format -of json` output into a ProbeResult.

    Raises ProbeError when the output is not the JSON object ffprobe promises.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProbeRejected(f"ffprobe output is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ProbeRejected("ffprobe output is not a JSON object")
    return probe_result_from_dict(data)


def probe_result_from_dict(data: dict[str, Any]) -> ProbeResult:
    """The record's fields from ffprobe-shaped JSON: what ffprobe prints, and what the PyAV
    worker sends (`vpo/probe_av.py`). One parser for both, so both give the same record."""
    fmt = data.get("format") if isinstance(data.get("format"), dict) else {}
    streams: list[ScannedStream] = []
    for position, raw in enumerate(data.get("streams") or []):
        if not isinstance(raw, dict):
            continue
        tags = raw.get("tags") if isinstance(raw.get("tags"), dict) else {}
        index = _optional_int(raw.get("index"))
        streams.append(
            ScannedStream(
                index=position if index is None else index,
                codec_type=_optional_str(raw.get("codec_type")),
                codec_name=_optional_str(raw.get("codec_name")),
                language=_optional_str(tags.get("language")),
                channels=_optional_int(raw.get("channels")),
                width=_optional_int(raw.get("width")),
                height=_optional_int(raw.get("height")),
            )
        )
    return ProbeResult(
        container=_optional_str(fmt.get("format_name")),
        duration=_optional_float(fmt.get("duration")),
        streams=streams,
    )


def ffprobe_error_message(returncode: int, stderr: str, path: str = "") -> str:
    """A one-line reason from ffprobe's stderr (its last line names the problem).

    ffprobe starts that line with the file's path; the error is stored and logged beside the
    path already, so it is dropped here rather than shown twice.
    """
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    reason = lines[-1] if lines else f"exit status {returncode}"
    if path and reason.startswith(f"{path}: "):
        reason = reason[len(path) + 2 :]
    return probe_failed_message(reason)


def probe_failed_message(reason: str) -> str:
    """The stored error of a rejected file, the same from both probers: FFmpeg's own words
    (`probe failed: Invalid data found when processing input`)."""
    return f"probe failed: {reason}"[:500]


def probe_timeout_message(seconds: float) -> str:
    return f"probe timed out after {seconds:g} s"


def probe_crashed_message(detail: str) -> str:
    return f"probe crashed ({detail})"


def av_importable() -> bool:
    """Whether `av` can be found, without importing it here: the daemon never loads FFmpeg
    itself (the workers do), so its memory and its crash surface stay as they are. A package
    that is found but fails to import is caught by the first worker, which says so."""
    try:
        return importlib.util.find_spec("av") is not None
    except (ImportError, ValueError):
        return False


def choose_probers(preference: str, av_ok: bool, ffprobe: str | None) -> list[str]:
    """The probers to try, in order: a scan falls back to the next one if one turns out
    unusable. Empty: probing is skipped."""
    allowed = [PROBER_AV, PROBER_FFPROBE] if preference == "auto" else [preference]
    usable = {PROBER_AV: av_ok, PROBER_FFPROBE: ffprobe is not None}
    return [name for name in allowed if usable.get(name, False)]


# What the core's walk errors start with (src/walk.rs), and how the discover line counts them.
WALK_ERROR_KINDS: tuple[tuple[str, str, str], ...] = (
    ("cannot read directory:", "unreadable directory", "unreadable directories"),
    ("broken symbolic link:", "broken symbolic link", "broken symbolic links"),
    ("directory loop:", "directory loop", "directory loops"),
    ("cannot stat:", "file that could not be stat'ed", "files that could not be stat'ed"),
)


def describe_walk_errors(errors: Iterable[tuple[str, str]]) -> str:
    """`2 unreadable directories, 1 broken symbolic link` for the discover log line.

    Each kind is named for what it is: a dangling link is not an unreadable directory.
    """
    counts = dict.fromkeys(range(len(WALK_ERROR_KINDS) + 1), 0)
    for _path, message in errors:
        kind = next(
            (n for n, (prefix, _, _) in enumerate(WALK_ERROR_KINDS) if message.startswith(prefix)),
            len(WALK_ERROR_KINDS),
        )
        counts[kind] += 1
    names = [
        *((one, many) for _, one, many in WALK_ERROR_KINDS),
        ("other problem", "other problems"),
    ]
    return ", ".join(
        f"{count} {names[kind][0] if count == 1 else names[kind][1]}"
        for kind, count in counts.items()
        if count
    )


def overall_percent(found: int, skipped: int, hashed: int, finished: int, probing: bool) -> float:
    """Percentage of the job done, kept below 100 until the job completes.

    Unchanged files count as done at once; a changed file counts a share when hashed and the rest
    when finished (probed, or saved when there is no probing).
    """
    if found <= 0:
        return 0.0
    hash_share = HASH_SHARE_WHEN_PROBING if probing else 0.5
    done = skipped + hash_share * hashed + (1.0 - hash_share) * finished
    return round(min(PERCENT_CEILING, 100.0 * done / found), 1)


def needs_scan(
    known: KnownFile | None, size: int, mtime: float, full: bool, can_probe: bool = True
) -> bool:
    """Whether a discovered file must be hashed and probed again.

    Unchanged (same size and mtime) files are skipped unless the scan is full. A file last
    recorded as missing, or as an error other than a probe rejection, is scanned again: the cause
    may be gone (a read error, a probe timeout), and reusing its old record would keep stale
    data. An unchanged file that the prober rejected is skipped and keeps its error: it would
    only say the same again. A file recorded while no prober was available is scanned again
    once one is: otherwise it would stay without stream data until a full scan.
    """
    if full or known is None:
        return True
    unchanged = known.size == size and known.mtime == mtime
    if known.scan_status == "error" and known.error_kind == ERROR_PROBE:
        return not unchanged
    if known.scan_status != "ok":
        return True
    if can_probe and not known.probed:
        return True
    return not unchanged


def unique_roots(roots: Iterable[str]) -> list[str]:
    """Absolute, symlink-resolved roots without duplicates, in the order given.

    Resolving makes the paths the walker reports, the store's known files and the missing-file
    match all agree on one spelling of each root.
    """
    seen: dict[str, None] = {}
    for root in roots:
        seen.setdefault(os.path.realpath(os.path.abspath(root)), None)
    return list(seen)


# --------------------------------------------------------------------------------------------
# The probers. Both have the same face for the probe loop: `has_room()`, `busy`, `submit(item)`,
# `wait(timeout)` giving (item, ProbeResult or the ProbeError to record), `stop()` (refuse new
# work; running probes answer or come back as ProbeStopped), `close()` (end everything now).


def probe_file(path: str, ffprobe: str, timeout: float, stop: threading.Event) -> ProbeResult:
    """Run ffprobe on one file, killing it on timeout or when `stop` is set."""
    command = [ffprobe, "-v", "error", "-show_streams", "-show_format", "-of", "json", path]
    try:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    except FileNotFoundError:
        raise FfprobeMissing("ffprobe not found") from None
    except OSError as exc:
        # The reason in words ("Permission denied"), not "[Errno 13] ...": it goes to the job log.
        raise ProbeError(f"cannot run ffprobe: {exc.strerror or exc}") from None
    deadline = time.monotonic() + timeout
    try:
        while True:
            # Short waits so a cancel kills the probe within a fraction of a second.
            try:
                stdout, stderr = process.communicate(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                if stop.is_set():
                    raise ProbeStopped() from None
                if time.monotonic() >= deadline:
                    raise ProbeError(probe_timeout_message(timeout)) from None
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    if process.returncode != 0:
        # surrogateescape, as the path itself was decoded: ffprobe quotes the path, and the
        # quote must match it byte for byte to be dropped (store and log escape what is left).
        reason = stderr.decode("utf-8", "surrogateescape")
        raise ProbeRejected(ffprobe_error_message(process.returncode, reason, path))
    return parse_ffprobe_json(stdout.decode("utf-8", "replace"))


ProbeAnswer = ProbeResult | ProbeError


class _FfprobeProber:
    """The fallback: one ffprobe process per file, each waited for on its own thread."""

    name = PROBER_FFPROBE

    def __init__(self, ffprobe: str, concurrency: int, timeout: float) -> None:
        self._ffprobe = ffprobe
        self._concurrency = concurrency
        self._timeout = timeout
        self._stop = threading.Event()
        self._threads = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="ffprobe")
        self._running: dict[Future[ProbeResult], _Discovered] = {}

    @property
    def busy(self) -> int:
        return len(self._running)

    def has_room(self) -> bool:
        return not self._stop.is_set() and len(self._running) < self._concurrency

    def submit(self, item: _Discovered) -> None:
        future = self._threads.submit(
            probe_file, item.path, self._ffprobe, self._timeout, self._stop
        )
        self._running[future] = item

    def wait(self, timeout: float) -> list[tuple[_Discovered, ProbeAnswer | ProbeStopped]]:
        finished, _ = wait(self._running, timeout=timeout, return_when=FIRST_COMPLETED)
        answers: list[tuple[_Discovered, ProbeAnswer | ProbeStopped]] = []
        for future in finished:
            item = self._running.pop(future)
            error = future.exception()
            if error is None:
                answers.append((item, future.result()))
            elif isinstance(error, ProbeError | ProbeStopped):
                answers.append((item, error))
            else:
                raise error
        return answers

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        self._stop.set()
        self._threads.shutdown(wait=True)


class _AvProber:
    """PyAV in a pool of persistent worker processes (`vpo/probe_pool.py`)."""

    name = PROBER_AV

    def __init__(self, concurrency: int, timeout: float) -> None:
        self._pool: ProbePool[_Discovered] = ProbePool(concurrency, timeout)
        self._stopped = False

    @property
    def busy(self) -> int:
        return self._pool.busy

    def has_room(self) -> bool:
        return not self._stopped and self._pool.has_room()

    def submit(self, item: _Discovered) -> None:
        self._pool.submit(item.path, item)

    def wait(self, timeout: float) -> list[tuple[_Discovered, ProbeAnswer | ProbeStopped]]:
        return [(item, self.answer(outcome)) for item, outcome in self._pool.wait(timeout)]

    def stop(self) -> None:
        """No new files; those in flight still answer (a worker without `av` answers at once)."""
        self._stopped = True

    def close(self) -> None:
        """Busy workers are killed: a cancel must not wait for FFmpeg."""
        self._pool.close()

    @staticmethod
    def answer(outcome: Outcome) -> ProbeAnswer:
        """A worker's outcome in the scan's terms: the record's fields, or the error to store."""
        if isinstance(outcome, Probed):
            return probe_result_from_dict(outcome.data)
        if isinstance(outcome, Rejected):
            return ProbeRejected(probe_failed_message(outcome.reason))
        if isinstance(outcome, TimedOut):
            return ProbeError(probe_timeout_message(outcome.seconds))
        if isinstance(outcome, Crashed):
            return ProbeError(probe_crashed_message(outcome.detail))
        if isinstance(outcome, Unavailable):
            return ProberUnavailable(outcome.reason)
        assert isinstance(outcome, Failed)
        return ProbeError(probe_failed_message(outcome.reason))


# --------------------------------------------------------------------------------------------
# Progress and saving


class ProgressRecorder:
    """Sends every change to the callback and a throttled copy of it to the job row.

    Thread safe: the Rust core may call back from its own threads.
    """

    def __init__(
        self,
        store: JobStore,
        job_id: str,
        on_progress: Callable[[Progress], None] | None,
        min_interval: float = PROGRESS_WRITE_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`clock` is injectable so the throttling can be tested without real waits."""
        self._store = store
        self._clock = clock
        self._job_id = job_id
        self._on_progress = on_progress
        self._min_interval = min_interval
        self._lock = threading.Lock()
        self._latest: Progress | None = None
        self._written: Progress | None = None
        self._written_at = float("-inf")

    @property
    def latest(self) -> Progress | None:
        return self._latest

    def report(self, progress: Progress, force: bool = False) -> None:
        with self._lock:
            self._latest = progress
            phase_changed = self._written is None or self._written.phase != progress.phase
            if force or phase_changed:
                self._write_locked()
            else:
                self._write_if_due_locked()
        if self._on_progress is not None:
            self._on_progress(progress)

    def flush_if_due(self) -> None:
        """Write a pending change once the interval has passed (called from wait loops)."""
        with self._lock:
            self._write_if_due_locked()

    def flush(self) -> None:
        with self._lock:
            self._write_locked()

    def _write_if_due_locked(self) -> None:
        if self._clock() - self._written_at >= self._min_interval:
            self._write_locked()

    def _write_locked(self) -> None:
        latest = self._latest
        if latest is None or latest == self._written:
            return
        self._store.update_progress(
            self._job_id,
            phase=latest.phase,
            processed=latest.processed,
            total=latest.total,
            percent=latest.percent,
        )
        self._written = latest
        self._written_at = self._clock()


class SaveBuffer:
    """Collects finished files and saves them in short batches."""

    def __init__(self, store: JobStore, job_id: str) -> None:
        self._store = store
        self._job_id = job_id
        self._pending: list[ScannedFile] = []
        self._oldest = 0.0
        self.saved = 0

    def add(self, scanned: ScannedFile) -> None:
        if not self._pending:
            self._oldest = time.monotonic()
        self._pending.append(scanned)
        self.save_if_due()

    def save_if_due(self) -> None:
        if len(self._pending) >= SAVE_BATCH_FILES or (
            self._pending and time.monotonic() - self._oldest >= SAVE_BATCH_SECONDS
        ):
            self.save()

    def save(self) -> None:
        if self._pending:
            batch, self._pending = self._pending, []
            self._store.save_scanned_files(self._job_id, batch)
            self.saved += len(batch)


# --------------------------------------------------------------------------------------------
# The pipeline


@dataclass(slots=True)
class _Discovered:
    """One discovered file. A scan holds one per file found (100,000 and more), so: slots, and
    the "new" mark kept here rather than in a set of paths beside the list."""

    path: str
    size: int
    mtime: float
    digest: str | None = None
    new: bool = False  # not in the store before this scan (or recorded missing)


@dataclass
class _Counts:
    found: int = 0
    scanned: int = 0
    skipped: int = 0
    added: int = 0
    removed: int = 0
    errors: int = 0
    probe_skipped: bool = False

    def summary(self) -> dict[str, Any]:
        return {
            "found": self.found,
            "scanned": self.scanned,
            "skipped": self.skipped,
            "added": self.added,
            "removed": self.removed,
            "errors": self.errors,
            "probe_skipped": self.probe_skipped,
        }


def _record(
    item: _Discovered,
    *,
    status: str,
    error: str | None = None,
    error_kind: str | None = None,
    probe: ProbeResult | None = None,
) -> ScannedFile:
    return ScannedFile(
        path=item.path,
        size=item.size,
        mtime=item.mtime,
        content_hash=item.digest,
        container=probe.container if probe else None,
        duration=probe.duration if probe else None,
        scan_status=status,
        scan_error=error,
        error_kind=error_kind,
        streams=list(probe.streams) if probe else [],
    )


def _unique_discovered(files: list[tuple[str, int, float]]) -> list[_Discovered]:
    """The core's (path, size, mtime) list as _Discovered, each path once (overlapping roots
    list a file twice).

    The core returns the list sorted by path, so a duplicate is next to its first: each tuple
    is replaced in place by its object, and no dictionary of 100,000 paths is built beside the
    list. A list that is not sorted (a different core) is deduplicated with a set instead.
    """
    previous: str | None = None
    kept = 0
    for position, (path, size, mtime) in enumerate(files):
        if previous is not None and path <= previous:
            if path == previous:
                continue
            # Before `kept`: objects made so far; from `position`: tuples not yet looked at.
            return _unique_unsorted([*files[:kept], *files[position:]])
        files[kept] = _Discovered(path, size, mtime)  # type: ignore[call-overload]
        kept += 1
        previous = path
    del files[kept:]
    return files  # type: ignore[return-value]


def _unique_unsorted(files: list[Any]) -> list[_Discovered]:
    seen: set[str] = set()
    unique: list[_Discovered] = []
    for entry in files:
        item = entry if isinstance(entry, _Discovered) else _Discovered(*entry)
        if item.path not in seen:
            seen.add(item.path)
            unique.append(item)
    return unique


class _Scan:
    """State of one scan run; `run()` is the pipeline, one method per phase."""

    def __init__(
        self,
        store: JobStore,
        job_id: str,
        options: ScanOptions,
        log: JobLog,
        should_cancel: Callable[[], bool],
        on_progress: Callable[[Progress], None] | None,
    ) -> None:
        self.store = store
        self.job_id = job_id
        self.options = options
        self.log = log
        self.should_cancel = should_cancel
        self.progress = ProgressRecorder(store, job_id, on_progress)
        self.saver = SaveBuffer(store, job_id)
        self.counts = _Counts()
        self.roots = unique_roots(options.roots)
        self.hashed = 0
        self.finished = 0  # changed files done: saved with their data or as an error
        # Looked up once, first, so progress weighs hashing right from the start.
        self.ffprobe = shutil.which("ffprobe")
        self.probers = choose_probers(options.prober, av_importable(), self.ffprobe)
        self.probing = bool(self.probers)
        self._todo: list[_Discovered] = []
        self._unreadable: list[str] = []
        # Files not in the store before this scan (marked `new`): "added" counts those actually
        # recorded, so a cancelled scan never reports more new files than it scanned.
        self._new_count = 0

    # -- helpers

    def _cancel_now(self) -> ScanCancelled:
        """Keep what is finished and the last progress, then hand back the exception to raise."""
        self.saver.save()
        self.progress.flush()
        self.log.warning(
            f"Scan cancelled: {self.finished} of {len(self._todo)} changed files finished, "
            f"{self.saver.saved} saved"
        )
        return ScanCancelled(self._summary())

    def _summary(self) -> dict[str, Any]:
        self.counts.scanned = self.finished
        return self.counts.summary()

    def _report(self, phase: str, phase_done: int, phase_total: int | None) -> None:
        found = self.counts.found
        self.progress.report(
            Progress(
                phase=phase,
                processed=self.counts.skipped + self.finished,
                total=found,
                percent=overall_percent(
                    found, self.counts.skipped, self.hashed, self.finished, self.probing
                ),
                phase_done=phase_done,
                phase_total=phase_total,
            )
        )

    def _file_error(self, item: _Discovered, message: str, kind: str | None) -> None:
        self.counts.errors += 1
        self.log.error(f"{item.path}: {message}")
        self._keep(item, _record(item, status="error", error=message, error_kind=kind))

    def _keep(self, item: _Discovered, record: ScannedFile) -> None:
        """Queue one finished file for saving, counting it as added when it is new."""
        if item.new:
            self.counts.added += 1
        self.saver.add(record)

    # -- phases

    def run(self) -> dict[str, Any]:
        mode = "full" if self.options.full else "incremental"
        self.log.info(
            f"Scan started ({mode}) of {', '.join(self.roots)}; "
            f"probe concurrency {self.options.probe_concurrency}"
        )
        try:
            discovered = self.discover()
            self.select_changed(discovered)
            self.probe(self.hash())
            self.finish(discovered)
        except KeyboardInterrupt:
            # Ctrl+C lands between two files: keep what is finished, as a cancel does.
            self.saver.save()
            self.progress.flush()
            raise
        return self._summary()

    def discover(self) -> list[_Discovered]:
        self.progress.report(Progress(PHASE_DISCOVER, 0, None, None, 0, None))
        started = time.monotonic()

        def found_so_far(count: int) -> None:
            self.progress.report(Progress(PHASE_DISCOVER, count, None, None, count, None))

        try:
            files, walk_errors = _core.discover(
                self.roots,
                list(self.options.extensions),
                progress=found_so_far,
                should_cancel=self.should_cancel,
            )
        except _core.Cancelled:
            raise self._cancel_now() from None
        unique = _unique_discovered(files)
        del files
        for path, message in walk_errors:
            self.counts.errors += 1
            # The core's messages already say what failed ("cannot read directory: ...",
            # "broken symbolic link: ...", "directory loop: ...").
            self.log.error(f"{path}: {message}")
        if walk_errors:
            self.store.record_file_errors(self.job_id, list(walk_errors))
        self._unreadable = [path for path, _ in walk_errors if os.path.isdir(path)]
        self.counts.found = len(unique)
        self.log.info(
            f"Discover: {len(unique)} video files found in {time.monotonic() - started:.1f} s"
            + (f", {describe_walk_errors(walk_errors)}" if walk_errors else "")
        )
        return unique

    def select_changed(self, discovered: list[_Discovered]) -> None:
        known = self.store.known_files(self.roots)
        kept_errors = 0
        for item in discovered:
            previous = known.get(item.path)
            if needs_scan(previous, item.size, item.mtime, self.options.full, self.probing):
                self._todo.append(item)
                if previous is None or previous.scan_status == "missing":
                    item.new = True
                    self._new_count += 1
            else:
                self.counts.skipped += 1
                kept_errors += previous is not None and previous.scan_status == "error"
        kept = (
            f" ({kept_errors} of them {'keeps its' if kept_errors == 1 else 'keep their'} "
            "earlier probe error; --full probes again)"
            if kept_errors
            else ""
        )
        self.log.info(
            f"Incremental check: {self.counts.skipped} unchanged files skipped{kept}, "
            f"{len(self._todo)} to scan ({self._new_count} new)"
            if not self.options.full
            else f"Full scan: all {len(self._todo)} files will be hashed and probed"
        )

    def hash(self) -> list[_Discovered]:
        """Hash the changed files; the readable ones (with their digest) are returned for
        probing, the unreadable ones are recorded as errors here."""
        todo = self._todo
        self._report(PHASE_HASH, 0, len(todo))
        if self.should_cancel():
            raise self._cancel_now()

        started = time.monotonic()
        errors = 0
        readable: list[_Discovered] = []
        # In batches: the core's answer for 100,000 files at once would be 100,000 more tuples
        # alive beside the list of files; a batch is still thousands of files in parallel.
        for first in range(0, len(todo), HASH_BATCH_FILES):
            batch = todo[first : first + HASH_BATCH_FILES]

            def hashed_so_far(done: int, _total: int, first: int = first) -> None:
                self.hashed = first + done
                self._report(PHASE_HASH, first + done, len(todo))

            try:
                results = _core.hash_files(
                    [item.path for item in batch],
                    progress=hashed_so_far,
                    should_cancel=self.should_cancel,
                )
            except _core.Cancelled:
                raise self._cancel_now() from None
            self.hashed = first + len(batch)
            for item, (_path, digest, error) in zip(batch, results, strict=True):
                if error is not None or digest is None:
                    errors += 1
                    self.finished += 1
                    self._file_error(item, f"cannot read file: {error or 'no hash'}", ERROR_READ)
                else:
                    item.digest = digest
                    readable.append(item)
        self.log.info(
            f"Hash: {len(todo)} files hashed in {time.monotonic() - started:.1f} s, "
            f"{errors} unreadable"
        )
        return readable

    def probe(self, todo: list[_Discovered]) -> None:
        """Probe the hashed files with the first usable prober; if one turns out unusable
        mid-scan (a worker cannot import `av`, ffprobe vanished), the files it did not finish go
        to the next, and without any they are recorded unprobed."""
        if not self.probers:
            self._skip_probing(todo)
            return
        self._report(PHASE_PROBE, 0, len(todo))
        if self.options.prober == "auto" and self.probers[0] != PROBER_AV:
            self.log.warning(f"{PROBER_NAMES[PROBER_AV]} cannot probe: {AV_NOT_FOUND}")
        started = time.monotonic()
        outcomes = {"ok": 0, "error": 0}
        pending: Iterator[_Discovered] = iter(todo)
        used: list[str] = []
        for name in self.probers:
            used.append(PROBER_NAMES[name])
            unusable = self._probe_with(self._make_prober(name), pending, outcomes, len(todo))
            if unusable is None:
                break
            reason, left = unusable
            self.log.warning(f"{PROBER_NAMES[name]} cannot probe: {reason}")
            pending = itertools.chain(left, pending)
        else:
            # No prober left: the rest is recorded as if none had ever been there.
            self._skip_probing(list(pending))
            return
        self.log.info(
            f"Probe: {outcomes['ok']} files probed with {' then '.join(used)} in "
            f"{time.monotonic() - started:.1f} s, {outcomes['error']} errors"
        )

    def _make_prober(self, name: str) -> _AvProber | _FfprobeProber:
        concurrency = max(1, self.options.probe_concurrency)
        if name == PROBER_AV:
            return _AvProber(concurrency, self.options.probe_timeout)
        assert self.ffprobe is not None
        return _FfprobeProber(self.ffprobe, concurrency, self.options.probe_timeout)

    def _probe_with(
        self,
        prober: _AvProber | _FfprobeProber,
        pending: Iterator[_Discovered],
        outcomes: dict[str, int],
        total: int,
    ) -> tuple[str, list[_Discovered]] | None:
        """Run `pending` through one prober. None when all are done; (why, the files it left
        unprobed) when the prober turned out unusable. Raises ScanCancelled on a cancel."""
        unusable: str | None = None
        left: list[_Discovered] = []
        cancelled = False
        try:
            while True:
                # Start probes up to the limit; the cancel check sits at each file boundary.
                while prober.has_room() and unusable is None:
                    if self.should_cancel():
                        cancelled = True
                        break
                    item = next(pending, None)
                    if item is None:
                        break
                    prober.submit(item)
                if cancelled or not prober.busy:
                    break
                for item, answer in prober.wait(0.25):
                    if isinstance(answer, ProberUnavailable | ProbeStopped):
                        if isinstance(answer, ProberUnavailable) and unusable is None:
                            unusable = str(answer)
                            prober.stop()
                        left.append(item)
                        continue
                    outcomes[self._keep_probed(item, answer)] += 1
                    self.finished += 1
                self._report(PHASE_PROBE, sum(outcomes.values()), total)
                self.saver.save_if_due()
                self.progress.flush_if_due()
                if prober.busy and self.should_cancel():
                    cancelled = True
                    break
        finally:
            # On a cancel this ends running probes at once; their answers would be thrown away.
            prober.close()
        if cancelled:
            raise self._cancel_now()
        return None if unusable is None else (unusable, left)

    def _keep_probed(self, item: _Discovered, answer: ProbeAnswer) -> str:
        """Queue one probed file, as a record or as an error; "ok" or "error"."""
        if isinstance(answer, ProbeRejected):
            self._file_error(item, str(answer), ERROR_PROBE)
            return "error"
        if isinstance(answer, ProbeError):
            self._file_error(item, str(answer), None)
            return "error"
        self._keep(item, _record(item, status="ok", probe=answer))
        return "ok"

    def _skip_probing(self, todo: list[_Discovered]) -> None:
        """Record files without stream data, and say once that probing was skipped.

        Nothing is said when no file needed probing: then nothing was skipped.
        """
        self.probing = False
        if todo:
            self.counts.probe_skipped = True
            self.log.warning(PROBER_MISSING_MESSAGE)
        self._report(PHASE_SAVE, 0, len(todo))
        for number, item in enumerate(todo, start=1):
            if self.should_cancel():
                raise self._cancel_now()
            self._keep(item, _record(item, status="ok"))
            self.finished += 1
            self._report(PHASE_SAVE, number, len(todo))

    def finish(self, discovered: list[_Discovered]) -> None:
        self._report(PHASE_SAVE, self.finished, len(self._todo))
        self.saver.save()
        if self.should_cancel():
            raise self._cancel_now()
        seen = {item.path for item in discovered}
        # What lies under an unreadable directory was not seen, but it is not known to be gone
        # either: keep its records rather than mark them missing.
        if self._unreadable:
            seen.update(self.store.known_files(self._unreadable))
        removed = self.store.mark_missing(self.roots, seen, self.job_id)
        self.counts.removed = removed
        self.progress.flush()
        self.log.info(
            f"Save: {self.saver.saved} files saved, "
            f"{removed} files no longer on disk marked missing"
        )


def run_scan(
    store: JobStore,
    job_id: str,
    options: ScanOptions,
    log: JobLog,
    should_cancel: Callable[[], bool],
    on_progress: Callable[[Progress], None] | None = None,
) -> dict[str, Any]:
    """Scan `options.roots` for job `job_id` and return its summary_raw.

    Raises ScanCancelled (finished files saved, progress stored) when `should_cancel()` turns
    True, FileNotFoundError / NotADirectoryError for a root that is not a directory.
    """
    return _Scan(store, job_id, options, log, should_cancel, on_progress).run()
