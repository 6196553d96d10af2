"""The scan pipeline (docs/design.md §5): discover, skip unchanged, hash, probe, save, mark missing.

This is the only module that runs ffprobe and calls `vpo._core`. Work that touches the disk runs
outside any database transaction: the Rust core walks and hashes with the GIL released, ffprobe
runs in worker threads, and results reach the store in small batches, each one short write
transaction. The store therefore never holds a write lock across file I/O or an ffprobe call.

Progress goes to the job row (throttled, but at least once a second while it changes) and to an
optional callback (every change, for a progress bar). Cancellation is checked at every file
boundary; a cancelled scan saves what it finished and raises `ScanCancelled`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vpo import _core
from vpo.config import DEFAULT_EXTENSIONS
from vpo.store import ERROR_PROBE, ERROR_READ, ScannedFile, ScannedStream

if TYPE_CHECKING:
    from vpo.joblog import JobLog
    from vpo.store import JobStore, KnownFile


PHASE_DISCOVER, PHASE_HASH, PHASE_PROBE, PHASE_SAVE = "discover", "hash", "probe", "save"

FFPROBE_MISSING_MESSAGE = "ffprobe not found: probing skipped"

# A batch is saved when it holds this many files or is this old, whichever comes first: large
# enough that a 100,000-file scan is a few hundred transactions, small enough that each one is
# a few milliseconds and finished files show up in the store while the scan goes on.
SAVE_BATCH_FILES = 200
SAVE_BATCH_SECONDS = 1.0

# Progress reaches the job row at most this often (each write bumps the row's version, which
# invalidates every client's ETag), and a pending change is written within this time.
PROGRESS_WRITE_INTERVAL = 0.25

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
    """ffprobe could not read a file (corrupt, unsupported, timed out)."""


class ProbeRejected(ProbeError):
    """ffprobe ran and rejected the file's content (it exited with an error, or its output was
    not the JSON it promises). Unlike a timeout, the same bytes would give the same answer."""


class FfprobeMissing(ProbeError):
    """There is no ffprobe executable to run."""


class ProbeStopped(Exception):
    """The probe was killed because the scan is being cancelled."""


@dataclass(frozen=True)
class ProbeResult:
    """What ffprobe reported; a field it leaves out stays None (never guessed)."""

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
    return f"ffprobe failed: {reason}"[:500]


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
    data. An unchanged file that ffprobe rejected is skipped and keeps its error: ffprobe would
    only say the same again, at the cost of a process per broken file per scan. So is a file
    recorded while ffprobe was missing, once ffprobe is there: otherwise it would stay without
    stream data until a full scan.
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
# ffprobe


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
        raise FfprobeMissing(FFPROBE_MISSING_MESSAGE) from None
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
                    raise ProbeError(f"ffprobe timed out after {timeout:g} s") from None
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


@dataclass
class _Discovered:
    path: str
    size: int
    mtime: float
    digest: str | None = None


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
        self.probing = self.ffprobe is not None
        self._todo: list[_Discovered] = []
        self._unreadable: list[str] = []
        # Paths not in the store before this scan: "added" counts those actually recorded, so a
        # cancelled scan never reports more new files than it scanned.
        self._new_paths: set[str] = set()

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
        if item.path in self._new_paths:
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
        unique: dict[str, _Discovered] = {}
        for path, size, mtime in files:
            unique.setdefault(path, _Discovered(path, size, mtime))
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
        return list(unique.values())

    def select_changed(self, discovered: list[_Discovered]) -> None:
        known = self.store.known_files(self.roots)
        kept_errors = 0
        for item in discovered:
            previous = known.get(item.path)
            if needs_scan(
                previous, item.size, item.mtime, self.options.full, self.ffprobe is not None
            ):
                self._todo.append(item)
                if previous is None or previous.scan_status == "missing":
                    self._new_paths.add(item.path)
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
            f"{len(self._todo)} to scan ({len(self._new_paths)} new)"
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

        def hashed_so_far(done: int, total: int) -> None:
            self.hashed = done
            self._report(PHASE_HASH, done, total)

        started = time.monotonic()
        try:
            results = _core.hash_files(
                [item.path for item in todo],
                progress=hashed_so_far,
                should_cancel=self.should_cancel,
            )
        except _core.Cancelled:
            raise self._cancel_now() from None
        self.hashed = len(todo)
        errors = 0
        readable: list[_Discovered] = []
        for item, (_path, digest, error) in zip(todo, results, strict=True):
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
        ffprobe = self.ffprobe
        if ffprobe is None:
            self._skip_probing(todo)
            return
        self._report(PHASE_PROBE, 0, len(todo))
        started = time.monotonic()
        stop = threading.Event()
        outcomes = {"ok": 0, "error": 0}
        unprobed: list[_Discovered] = []  # left over if ffprobe disappears mid-scan
        pending = iter(todo)
        running: dict[Future[ProbeResult], _Discovered] = {}
        concurrency = max(1, self.options.probe_concurrency)
        cancelled = False
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="ffprobe") as pool:
            try:
                while True:
                    # Start probes up to the limit; the cancel check sits at each file boundary.
                    while len(running) < concurrency and not cancelled and not stop.is_set():
                        if self.should_cancel():
                            cancelled = True
                            stop.set()
                            break
                        item = next(pending, None)
                        if item is None:
                            break
                        future = pool.submit(
                            probe_file, item.path, ffprobe, self.options.probe_timeout, stop
                        )
                        running[future] = item
                    if not running:
                        break
                    finished_now, _ = wait(running, timeout=0.25, return_when=FIRST_COMPLETED)
                    for future in finished_now:
                        item = running.pop(future)
                        outcome = self._probe_outcome(future, item)
                        if outcome == "missing":
                            stop.set()
                        if outcome in ("missing", "stopped"):
                            if not cancelled:
                                unprobed.append(item)
                            continue
                        outcomes[outcome] += 1
                        self.finished += 1
                    self._report(PHASE_PROBE, sum(outcomes.values()), len(todo))
                    self.saver.save_if_due()
                    self.progress.flush_if_due()
                    if running and not cancelled and self.should_cancel():
                        cancelled = True
                        stop.set()
            finally:
                stop.set()
        if cancelled:
            raise self._cancel_now()
        if unprobed:
            # ffprobe vanished mid-scan: the rest is recorded as if it had never been there.
            self._skip_probing(unprobed + list(pending))
            return
        self.log.info(
            f"Probe: {outcomes['ok']} files probed in {time.monotonic() - started:.1f} s, "
            f"{outcomes['error']} errors"
        )

    def _probe_outcome(self, future: Future[ProbeResult], item: _Discovered) -> str:
        try:
            result = future.result()
        except FfprobeMissing:
            return "missing"
        except ProbeStopped:
            return "stopped"
        except ProbeRejected as exc:
            self._file_error(item, str(exc), ERROR_PROBE)
            return "error"
        except ProbeError as exc:
            self._file_error(item, str(exc), None)
            return "error"
        self._keep(item, _record(item, status="ok", probe=result))
        return "ok"

    def _skip_probing(self, todo: list[_Discovered]) -> None:
        """Record files without stream data, and say once that probing was skipped.

        Nothing is said when no file needed probing: then nothing was skipped.
        """
        self.probing = False
        if todo:
            self.counts.probe_skipped = True
            self.log.warning(FFPROBE_MISSING_MESSAGE)
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
