"""The job store: the only module that speaks SQL.

One SQLite file `<data_dir>/vpo.db` in WAL mode, shared by the daemon and foreground `vpo scan`
processes. Writes go through one writer connection behind a lock, each a short
`BEGIN IMMEDIATE` transaction, so a writer never holds the database across file I/O. Reads use
one connection per thread: under WAL a reader works on its own snapshot and never waits for a
writer, which keeps API requests fast while a scan is writing progress.

Every write to a job row bumps the row's `version` and the store-wide `change_counter` in the
same transaction; the server derives ETags from them, so a poll that finds nothing new is cheap.

Paths (`files.path`, `file_errors.path`, `jobs.file_path`) are TEXT when the name is valid UTF-8
and a BLOB of the exact bytes on disk otherwise (a name from an old Windows share or a Latin-1
rsync), so every name round-trips and a rescan finds its row again. Python holds such names as
`str` with surrogateescape (`os.fsdecode`); `_db_path` / `_path_from_db` are the only crossings.
Free text (error messages) is written with undecodable bytes shown as `\\xNN`. Job params are
JSON from `json.dumps`, whose ASCII `\\udcNN` escapes keep such names exact.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

from vpo import joblog, storage
from vpo.jobs import (
    CANCELLED,
    COMPLETED,
    FAILED,
    LIST_COLUMNS,
    QUEUED,
    RUNNING,
    STATUSES,
    TERMINAL,
    Job,
    JobListItem,
    JobQuery,
    format_timestamp,
    parse_timestamp,
    utc_now,
)
from vpo.owner import process_owner
from vpo.pathtext import escape_undecodable, escaped_path, is_utf8

DB_FILENAME = "vpo.db"
LOGS_DIRNAME = "logs"
BUSY_TIMEOUT_MS = 10_000
# How much room `check_room` asks of the database and of the logs directory: about what a job
# needs to start (its row, a first batch of log lines).
ROOM_CHECK_BYTES = 16 * 1024
SCAN_STATUSES = ("ok", "error", "missing")
# files.error_kind of an 'error' file: the scan could not read it (tried again by the next scan,
# the cause may be gone), or ffprobe rejected its content (not probed again while the file is
# unchanged: same bytes, same answer). NULL for other errors, e.g. a probe that timed out.
ERROR_READ, ERROR_PROBE = "read", "probe"

# error_message of every cancelled job, whoever ended it (the runner, or a requeue it missed).
CANCELLED_MESSAGE = "Cancelled."

_T = TypeVar("_T")

# ---------------------------------------------------------------------------------------------
# Errors


class StoreError(Exception):
    """Base of the store's errors; the message is one sentence fit for a user."""


class JobNotFound(StoreError):
    def __init__(self, job_id: str) -> None:
        super().__init__(f"job {job_id} does not exist")
        self.job_id = job_id


class JobAlreadyTerminal(StoreError):
    def __init__(self, job: Job) -> None:
        super().__init__(f"job {job.id} is already {job.status}")
        self.job = job


class JobNotFinished(StoreError):
    """A retry of a job that is still queued or running: only an ended job can be repeated."""

    def __init__(self, job: Job) -> None:
        super().__init__(f"job {job.id} is still {job.status}")
        self.job = job


class SchemaTooNew(StoreError):
    pass


class StoreBusy(StoreError):
    """A read that must not wait found the database locked (see `change_counter_nowait`)."""


class StorageFull(StoreError, storage.OutOfSpace):
    """A write found no room: the disk holding the database is full (SQLITE_FULL).

    Nothing was written (the transaction rolled back); the same write succeeds once there is
    room again.
    """


# ---------------------------------------------------------------------------------------------
# Value types


@dataclass(frozen=True)
class ScannedStream:
    """One stream of a probed file, with ffprobe's names for its kind and codec."""

    index: int
    codec_type: str | None
    codec_name: str | None = None
    language: str | None = None
    channels: int | None = None
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class ScannedFile:
    """What a scan learned about one file. `scan_status` is 'ok' or 'error' (with scan_error).

    container, duration and streams are None/empty when they were not probed (no ffprobe, or
    the probe failed): the store never invents them.
    """

    path: str
    size: int
    mtime: float
    content_hash: str | None = None
    container: str | None = None
    duration: float | None = None
    scan_status: str = "ok"
    scan_error: str | None = None
    streams: list[ScannedStream] = field(default_factory=list)
    error_kind: str | None = None  # ERROR_READ, ERROR_PROBE or None, with scan_status 'error'


@dataclass(frozen=True, slots=True)
class KnownFile:
    """What the store already knows of a file, enough to decide whether to rescan it."""

    path: str
    size: int
    mtime: float
    scan_status: str
    content_hash: str | None = None
    # False when the file was recorded without ffprobe: a later scan with ffprobe must probe it.
    probed: bool = True
    error_kind: str | None = None


@dataclass(frozen=True)
class FileRecord:
    path: str
    size: int
    mtime: float
    content_hash: str | None
    container: str | None
    duration: float | None
    scan_status: str
    scan_error: str | None
    last_job_id: str | None
    updated_at: str
    streams: list[ScannedStream]


@dataclass(frozen=True)
class FileError:
    path: str
    message: str
    job_id: str
    created_at: str

    def to_dict(self) -> dict:
        """The API's error item; the path in its escaped form (vpo/pathtext.py) with its flag."""
        return {
            "path": escaped_path(self.path),
            "path_is_utf8": is_utf8(self.path),
            "message": self.message,
            "created_at": self.created_at,
        }


# ---------------------------------------------------------------------------------------------
# Schema

# Each entry migrates from version i to i + 1; never edit a released entry, append a new one.
MIGRATIONS: list[list[str]] = [
    [
        """CREATE TABLE meta (
            key TEXT PRIMARY KEY,
            value INTEGER NOT NULL
        )""",
        "INSERT INTO meta (key, value) VALUES ('change_counter', 0)",
        """CREATE TABLE jobs (
            id TEXT PRIMARY KEY,
            job_type TEXT NOT NULL,
            status TEXT NOT NULL,
            priority INTEGER NOT NULL DEFAULT 100,
            file_path TEXT NOT NULL,
            created_at TEXT NOT NULL,
            started_at TEXT,
            completed_at TEXT,
            progress_percent REAL,
            phase TEXT,
            processed_count INTEGER NOT NULL DEFAULT 0,
            total_count INTEGER,
            error_message TEXT,
            summary_raw TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            params TEXT NOT NULL DEFAULT '{}',
            owner TEXT,
            cancel_requested INTEGER NOT NULL DEFAULT 0,
            version INTEGER NOT NULL DEFAULT 1,
            updated_at TEXT NOT NULL
        )""",
        "CREATE INDEX jobs_by_created ON jobs (created_at, id)",
        "CREATE INDEX jobs_by_status ON jobs (status, created_at)",
        "CREATE INDEX jobs_by_type ON jobs (job_type, created_at)",
        "CREATE INDEX jobs_queue ON jobs (status, priority, created_at, id)",
        """CREATE TABLE files (
            id INTEGER PRIMARY KEY,
            path TEXT NOT NULL UNIQUE,
            size INTEGER NOT NULL,
            mtime REAL NOT NULL,
            hash TEXT,
            container TEXT,
            duration REAL,
            scan_status TEXT NOT NULL CHECK (scan_status IN ('ok', 'error', 'missing')),
            scan_error TEXT,
            last_job_id TEXT REFERENCES jobs (id) ON DELETE SET NULL,
            updated_at TEXT NOT NULL
        )""",
        "CREATE INDEX files_by_last_job ON files (last_job_id)",
        """CREATE TABLE streams (
            file_id INTEGER NOT NULL REFERENCES files (id) ON DELETE CASCADE,
            stream_index INTEGER NOT NULL,
            stream_type TEXT,
            codec TEXT,
            language TEXT,
            channels INTEGER,
            width INTEGER,
            height INTEGER,
            PRIMARY KEY (file_id, stream_index)
        )""",
        """CREATE TABLE file_errors (
            id INTEGER PRIMARY KEY,
            job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
            path TEXT NOT NULL,
            message TEXT NOT NULL,
            created_at TEXT NOT NULL,
            UNIQUE (job_id, path)
        )""",
    ],
    # 2: list queries filter by status or type and order by creation time with ties by id, or
    # sort by path; these indexes serve them without a temporary sort.
    [
        "DROP INDEX jobs_by_status",
        "CREATE INDEX jobs_by_status ON jobs (status, created_at, id)",
        "DROP INDEX jobs_by_type",
        "CREATE INDEX jobs_by_type ON jobs (job_type, created_at, id)",
        "CREATE INDEX jobs_by_path ON jobs (file_path, id)",
    ],
    # 3: path columns may hold a BLOB (the exact bytes of a name that is not UTF-8; see the
    # module docstring). No table changes: the new version number is what matters, because a
    # VPO from before it would read such a row as bytes and break, so it must refuse the file
    # (SchemaTooNew) instead.
    [],
    # 4: why an 'error' file failed (ERROR_READ / ERROR_PROBE), so an unchanged file that ffprobe
    # rejected is not probed again by every scan. Earlier rows are classified by their message.
    [
        "ALTER TABLE files ADD COLUMN error_kind TEXT",
        "UPDATE files SET error_kind = 'probe' WHERE scan_status = 'error' AND "
        "(scan_error LIKE 'ffprobe failed:%' OR scan_error LIKE 'ffprobe output is not%')",
        "UPDATE files SET error_kind = 'read' WHERE scan_status = 'error' AND "
        "scan_error LIKE 'cannot read file:%'",
    ],
    # 5: a retried job names the job it repeats (`POST /api/jobs/{id}/retry`); the counters of
    # `GET /api/stats` count jobs that ended within a window, by status and end time; and the
    # data dir gets a random id, so a client on this machine can tell whether a daemon uses the
    # same database as it would (`vpo scan --local`) without the daemon publishing a path.
    [
        "ALTER TABLE jobs ADD COLUMN retry_of TEXT",
        "CREATE INDEX jobs_by_completed ON jobs (status, completed_at)",
        "INSERT INTO meta (key, value) VALUES ('store_id', abs(random()))",
    ],
    # 6: every list page is read in an index's order, and its total comes from counters.
    # - One index per sort key, and one per sort key within a status (the status filter is the
    #   selective one; job types are few), each ending in `id`, the tie-breaker, so no page needs
    #   a temporary sort. `_page_index` names the index each query uses.
    # - `finished_duration` (days, from the same julianday arithmetic the duration sort always
    #   used) is NULL unless the job started and ended, so ended jobs sort by an index; jobs
    #   still running (`jobs_open`, few) are merged in by the store with the clock's duration.
    # - `job_counts` holds the number of jobs per (status, job_type), kept by triggers in the
    #   same transaction as every insert, status change and delete, whichever process writes:
    #   it can never disagree with the rows, and a total costs a few rows instead of a count
    #   through 100,000 index entries.
    [
        "ALTER TABLE jobs ADD COLUMN finished_duration REAL "
        "GENERATED ALWAYS AS (julianday(completed_at) - julianday(started_at)) VIRTUAL",
        "CREATE INDEX jobs_by_type_sort ON jobs (job_type, id)",
        "CREATE INDEX jobs_by_status_sort ON jobs (status, id)",
        "CREATE INDEX jobs_by_status_type ON jobs (status, job_type, id)",
        "CREATE INDEX jobs_by_status_path ON jobs (status, file_path, id)",
        "CREATE INDEX jobs_by_duration ON jobs (finished_duration, id)",
        "CREATE INDEX jobs_by_status_duration ON jobs (status, finished_duration, id)",
        "CREATE INDEX jobs_open ON jobs (started_at) "
        "WHERE completed_at IS NULL AND started_at IS NOT NULL",
        """CREATE TABLE job_counts (
            status TEXT NOT NULL,
            job_type TEXT NOT NULL,
            jobs INTEGER NOT NULL,
            PRIMARY KEY (status, job_type)
        ) WITHOUT ROWID""",
        "INSERT INTO job_counts (status, job_type, jobs) "
        "SELECT status, job_type, count(*) FROM jobs GROUP BY status, job_type",
        """CREATE TRIGGER job_counts_after_insert AFTER INSERT ON jobs BEGIN
            INSERT INTO job_counts (status, job_type, jobs) VALUES (NEW.status, NEW.job_type, 1)
                ON CONFLICT (status, job_type) DO UPDATE SET jobs = jobs + 1;
        END""",
        """CREATE TRIGGER job_counts_after_delete AFTER DELETE ON jobs BEGIN
            UPDATE job_counts SET jobs = jobs - 1
                WHERE status = OLD.status AND job_type = OLD.job_type;
        END""",
        """CREATE TRIGGER job_counts_after_update AFTER UPDATE OF status, job_type ON jobs
            WHEN OLD.status IS NOT NEW.status OR OLD.job_type IS NOT NEW.job_type BEGIN
            UPDATE job_counts SET jobs = jobs - 1
                WHERE status = OLD.status AND job_type = OLD.job_type;
            INSERT INTO job_counts (status, job_type, jobs) VALUES (NEW.status, NEW.job_type, 1)
                ON CONFLICT (status, job_type) DO UPDATE SET jobs = jobs + 1;
        END""",
    ],
]
SCHEMA_VERSION = len(MIGRATIONS)

_JOB_COLUMNS = (
    "id, job_type, status, priority, file_path, created_at, started_at, completed_at, "
    "progress_percent, phase, processed_count, total_count, error_message, summary_raw, "
    "attempts, params, cancel_requested, version, owner, updated_at, retry_of"
)

# Each job write also bumps the store-wide counter; run inside the same transaction.
_BUMP_COUNTER = "UPDATE meta SET value = value + 1 WHERE key = 'change_counter'"
_CHANGE_COUNTER = "SELECT value FROM meta WHERE key = 'change_counter'"

_LIST_COLUMNS = ", ".join(LIST_COLUMNS)

_SORT_COLUMNS = {
    "created_at": "created_at",
    "job_type": "job_type",
    "status": "status",
    "file_path": "file_path",
    "duration": "finished_duration",
}
# The index a page is read through, by sort key: (without, with) a status filter. Named in the
# query (INDEXED BY) so the plan cannot drift to a temporary sort of every matching row;
# tests/unit/test_store_plans.py checks the plan of every filter and sort the API accepts.
_PAGE_INDEXES = {
    "created_at": ("jobs_by_created", "jobs_by_status"),
    "job_type": ("jobs_by_type_sort", "jobs_by_status_type"),
    "status": ("jobs_by_status_sort", "jobs_by_status_sort"),
    "file_path": ("jobs_by_path", "jobs_by_status_path"),
    "duration": ("jobs_by_duration", "jobs_by_status_duration"),
}


@dataclass(frozen=True)
class _ListFilter:
    """The WHERE terms of a list query, with their arguments, and the page's index."""

    terms: tuple[str, ...]
    args: tuple[object, ...]
    # None for an id prefix: the primary key narrows the rows to one prefix's few, which are
    # then sorted; reading a whole sort index to find them would cost far more.
    index: str | None

    def where(self, *extra: str) -> str:
        terms = (*extra, *self.terms)
        return ("WHERE " + " AND ".join(terms)) if terms else ""

    def source(self) -> str:
        return f"jobs INDEXED BY {self.index}" if self.index else "jobs"


def _list_filter(q: JobQuery) -> _ListFilter:
    terms: list[str] = []
    args: list[object] = []
    if q.status is not None:
        terms.append("status = ?")
        args.append(q.status)
    if q.job_type is not None:
        terms.append("job_type = ?")
        args.append(q.job_type)
    if q.since is not None:
        terms.append("created_at >= ?")
        args.append(format_timestamp(q.since))
    if q.search:
        # CAST: LIKE does not look inside a BLOB (a target that is not UTF-8) otherwise.
        terms.append("CAST(file_path AS TEXT) LIKE ? ESCAPE '\\'")
        args.append("%" + _like_escape(q.search) + "%")
    index: str | None
    if q.id_prefix:
        # Ids are lowercase text: the ids starting with a prefix are one range of the key
        # (LIKE, case-insensitive, could not use the index).
        prefix = q.id_prefix.lower()
        terms.append("id >= ? AND id < ?")
        args.extend((prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)))
        index = None
    elif q.sort == "created_at" and q.job_type is not None and q.status is None:
        index = "jobs_by_type"
    else:
        index = _PAGE_INDEXES[q.sort][q.status is not None]
    return _ListFilter(tuple(terms), tuple(args), index)


class _DurationPage:
    """One page sorted by duration, read through indexes only.

    The order is the one the duration sort always had: jobs that started, by duration (an
    unfinished job's runs to `now`), ties by id; then the jobs that never started, by id. A
    finished job's duration never changes, so those are read in the order of the
    `finished_duration` index; the unfinished ones (`jobs_open`: the running jobs, a handful)
    are merged in at their places, each place counted in the same index; the never-started
    follow, from the same index's NULL part. Every figure comes from the same SQL arithmetic,
    so the merge agrees with the counts.
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        q: JobQuery,
        found: _ListFilter,
        columns: str,
        now_text: str,
    ) -> None:
        self.conn = conn
        self.found = found
        self.columns = columns
        self.now_text = now_text
        self.start = q.offset
        self.end = q.offset + q.limit
        self.descending = q.order == "desc"
        self.direction = "DESC" if self.descending else "ASC"

    def rows(self) -> list[sqlite3.Row]:
        found = self.found
        # (duration, id) of each unfinished job, in page order.
        running = sorted(
            (
                tuple(row)
                for row in self.conn.execute(
                    "SELECT julianday(?) - julianday(started_at), id "
                    "FROM jobs INDEXED BY jobs_open "
                    + found.where("completed_at IS NULL", "started_at IS NOT NULL"),
                    [self.now_text, *found.args],
                )
            ),
            reverse=self.descending,
        )
        # Where each lands: the unfinished before it, plus the finished jobs that sort first.
        before = ">" if self.descending else "<"
        running_at: dict[int, str] = {}
        for rank, (duration, job_id) in enumerate(running):
            ahead = self._count_finished(
                f"(finished_duration, id) {before} (?, ?)", duration, job_id
            )
            running_at[rank + ahead] = job_id
        running_before = sum(1 for place in running_at if place < self.start)
        in_page = sum(1 for place in running_at if self.start <= place < self.end)
        finished = iter(
            self.conn.execute(
                f"SELECT {self.columns} FROM {found.source()} "
                + found.where("finished_duration IS NOT NULL")
                + f" ORDER BY finished_duration {self.direction}, id {self.direction} "
                "LIMIT ? OFFSET ?",
                [*found.args, self.end - self.start - in_page, self.start - running_before],
            ).fetchall()
        )
        page: list[sqlite3.Row] = []
        place = self.start
        while place < self.end:
            job_id = running_at.get(place)
            row = self._job(job_id) if job_id is not None else next(finished, None)
            if row is None:  # past the jobs that started: `place` is where they end, or after
                break
            page.append(row)
            place += 1
        if place < self.end:
            started = place if place > self.start else len(running) + self._count_finished()
            page.extend(
                self.conn.execute(
                    f"SELECT {self.columns} FROM {found.source()} "
                    + found.where("finished_duration IS NULL", "started_at IS NULL")
                    + f" ORDER BY id {self.direction} LIMIT ? OFFSET ?",
                    [*found.args, self.end - place, place - started],
                )
            )
        return page

    def _count_finished(self, term: str | None = None, *key: object) -> int:
        terms = ["finished_duration IS NOT NULL"] + ([term] if term else [])
        return self.conn.execute(
            f"SELECT count(*) FROM {self.found.source()} " + self.found.where(*terms),
            [*key, *self.found.args],
        ).fetchone()[0]

    def _job(self, job_id: str) -> sqlite3.Row | None:
        return self.conn.execute(
            f"SELECT {self.columns} FROM jobs WHERE id = ?", (job_id,)
        ).fetchone()


def _counted_by_counters(q: JobQuery) -> bool:
    """Whether the total is a sum of `job_counts` rows: only status and type filter it."""
    return q.since is None and not q.search and not q.id_prefix


def _like_escape(text: str) -> str:
    """Make `text` match literally inside a LIKE pattern that uses ESCAPE '\\'."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _db_path(path: str) -> str | bytes:
    """A path as stored: TEXT when it is valid UTF-8, else a BLOB of its bytes on disk.

    One canonical form per name (never the same UTF-8 name as both TEXT and BLOB), so the
    UNIQUE constraint and equality lookups keep working.
    """
    if is_utf8(path):
        return path
    try:
        return os.fsencode(path)
    except UnicodeEncodeError:
        raise ValueError(
            f"{escape_undecodable(path)!r} cannot name a file: it holds a lone surrogate"
        ) from None


def _path_from_db(value: str | bytes) -> str:
    """Inverse of `_db_path`: a BLOB's bytes come back as the str `os.fsdecode` gives."""
    return os.fsdecode(value) if isinstance(value, bytes) else value


def _db_text(text: str | None) -> str | None:
    """Free text for a TEXT column: undecodable bytes of a file name shown as \\xNN."""
    return escape_undecodable(text) if text is not None else None


def _row_to_job(row: sqlite3.Row) -> Job:
    return Job(
        id=row["id"],
        job_type=row["job_type"],
        status=row["status"],
        priority=row["priority"],
        file_path=_path_from_db(row["file_path"]),
        created_at=row["created_at"],
        started_at=row["started_at"],
        completed_at=row["completed_at"],
        progress_percent=row["progress_percent"],
        phase=row["phase"],
        processed_count=row["processed_count"],
        total_count=row["total_count"],
        error_message=row["error_message"],
        summary_raw=json.loads(row["summary_raw"]) if row["summary_raw"] is not None else None,
        attempts=row["attempts"],
        params=json.loads(row["params"]) if row["params"] else {},
        cancel_requested=bool(row["cancel_requested"]),
        version=row["version"],
        owner=row["owner"],
        updated_at=row["updated_at"],
        retry_of=row["retry_of"],
    )


def _row_to_list_item(row: sqlite3.Row) -> JobListItem:
    item = JobListItem._make(row)
    if isinstance(item.file_path, bytes):
        return item._replace(file_path=_path_from_db(item.file_path))
    return item


def _now_text() -> str:
    return format_timestamp(utc_now())


def _check_count(name: str, value: int | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")


# ---------------------------------------------------------------------------------------------
# The store


class JobStore:
    """Thread-safe access to jobs, scanned files and their errors. See module docstring."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir).expanduser()
        self.logs_dir = self.data_dir / LOGS_DIRNAME
        self.db_path = self.data_dir / DB_FILENAME
        self._write_lock = threading.Lock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._closed = False
        # Shared with the worker and the API: what the writers found about free space.
        self.storage = storage.StorageStatus()
        try:
            self.logs_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the data directory {self.data_dir}: {exc}") from exc
        try:
            self._writer = self._connect()
        except sqlite3.Error as exc:
            raise self._open_error(exc) from exc
        # Called after a commit that left a job `queued` (see `add_queue_listener`).
        self._queue_listeners: list[Callable[[], None]] = []
        self._queued_in_transaction = False
        try:
            self._writer.execute("PRAGMA journal_mode = WAL")
            # NORMAL is durable across application crashes in WAL mode, and cheaper per commit.
            self._writer.execute("PRAGMA synchronous = NORMAL")
            self._migrate()
            self._watch_queue()
        except sqlite3.Error as exc:
            self._writer.close()
            self._closed = True
            raise self._open_error(exc) from exc
        except StoreError:
            self._writer.close()
            self._closed = True
            raise

    def _open_error(self, exc: sqlite3.Error) -> StoreError:
        if self._is_full(exc):
            return StorageFull(self._full_reason())
        return StoreError(f"cannot open the job database {self.db_path}: {exc}")

    def _is_full(self, exc: sqlite3.Error) -> bool:
        """SQLITE_FULL, or an I/O error while the disk has no room (SQLite says only "disk I/O
        error" when the full disk was met growing its shared-memory file)."""
        code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
        if code == sqlite3.SQLITE_FULL:
            return True
        return code == sqlite3.SQLITE_IOERR and storage.no_room_left(self.data_dir)

    def _full_reason(self) -> str:
        return f"the disk holding the job database {self.db_path} is full"

    # -- connections ------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN ourselves so transactions stay short and explicit.
        # check_same_thread=False: the writer is shared behind a lock, readers are closed by
        # close() from whichever thread calls it.
        conn = sqlite3.connect(
            self.db_path,
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,
            check_same_thread=False,
        )
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    def _reader(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError("the job store is closed")
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            conn.execute("PRAGMA query_only = ON")
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    @contextmanager
    def _write(self, *, durable: bool = False) -> Iterator[sqlite3.Connection]:
        """One short write transaction on the writer connection.

        `durable`: the commit is synced to disk before this returns (synchronous FULL), for
        writes that an answer promises, such as a cancel: the usual NORMAL survives a crash of
        the process but not of the machine. A full disk raises StorageFull.
        """
        with self._write_lock:
            if self._closed:
                raise StoreError("the job store is closed")
            conn = self._writer
            if durable:
                conn.execute("PRAGMA synchronous = FULL")
            try:
                conn.execute("BEGIN IMMEDIATE")
                self._queued_in_transaction = False
                try:
                    yield conn
                    conn.execute("COMMIT")
                except BaseException:
                    # Some errors (disk full, I/O) already rolled the transaction back; a failed
                    # COMMIT may leave it open, which would break every later BEGIN.
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                if self._queued_in_transaction:
                    self._notify_queue_listeners()
            except sqlite3.OperationalError as exc:
                if not self._is_full(exc):
                    raise
                reason = self._full_reason()
                self.storage.report(storage.DATABASE, reason)
                raise StorageFull(reason) from exc
            finally:
                if durable:
                    conn.execute("PRAGMA synchronous = NORMAL")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A read snapshot: several SELECTs that must agree (a page and its total)."""
        conn = self._reader()
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    def _migrate(self) -> None:
        with self._write() as conn:
            current = conn.execute("PRAGMA user_version").fetchone()[0]
            if current > SCHEMA_VERSION:
                raise SchemaTooNew(
                    f"{self.db_path} has schema version {current}, newer than this VPO "
                    f"understands ({SCHEMA_VERSION}); upgrade VPO"
                )
            for version in range(current, SCHEMA_VERSION):
                for statement in MIGRATIONS[version]:
                    conn.execute(statement)
            if current != SCHEMA_VERSION:
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _watch_queue(self) -> None:
        """Note, on the writer connection, every write that leaves a job `queued`.

        TEMP triggers live in this connection only (nothing is added to the database file, so
        other processes and older versions never meet them), and they fire for every statement
        of this process that queues a job: a submission, a requeue, an orphan put back, a retry,
        whichever method wrote it. The worker sleeps until told, instead of polling the queue.
        """

        def job_queued() -> None:
            self._queued_in_transaction = True

        self._writer.create_function("vpo_job_queued", 0, job_queued)
        self._writer.execute(
            "CREATE TEMP TRIGGER IF NOT EXISTS job_queued_on_insert AFTER INSERT ON main.jobs "
            "WHEN NEW.status = 'queued' BEGIN SELECT vpo_job_queued(); END"
        )
        self._writer.execute(
            "CREATE TEMP TRIGGER IF NOT EXISTS job_queued_on_update AFTER UPDATE OF status "
            "ON main.jobs WHEN NEW.status = 'queued' AND OLD.status IS NOT 'queued' "
            "BEGIN SELECT vpo_job_queued(); END"
        )

    def add_queue_listener(self, listener: Callable[[], None]) -> None:
        """Call `listener` (from the writing thread, so it must be quick: set an event) after
        each commit of this process that left a job `queued`.

        Jobs queued by another process sharing the database are not seen; in this design only
        the daemon queues jobs (a foreground `vpo scan` creates its job `running`).
        """
        self._queue_listeners.append(listener)

    def _notify_queue_listeners(self) -> None:
        self._queued_in_transaction = False
        for listener in self._queue_listeners:
            listener()

    def check_room(self) -> None:
        """Prove that the database and the logs directory can each take ROOM_CHECK_BYTES more,
        and clear their storage problems; raise StorageFull / OSError (ENOSPC) otherwise.

        The worker calls this while the daemon is degraded, so it recovers by itself once space
        returns. The database check writes a blob and deletes it in one transaction: the table
        ends as it was, but the pages had to be found, in the file or in the WAL.
        """
        with self._write() as conn:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('room_check', zeroblob(?))",
                (ROOM_CHECK_BYTES,),
            )
            conn.execute("DELETE FROM meta WHERE key = 'room_check'")
        self.storage.clear(storage.DATABASE)
        try:
            joblog.check_room(self.logs_dir, ROOM_CHECK_BYTES)
        except OSError as exc:
            if storage.is_out_of_space(exc):
                self.storage.report(storage.JOB_LOG, f"the disk holding {self.logs_dir} is full")
            raise
        self.storage.clear(storage.JOB_LOG)

    def schema_version(self) -> int:
        return self._reader().execute("PRAGMA user_version").fetchone()[0]

    def close(self) -> None:
        with self._write_lock:
            if self._closed:
                return
            self._closed = True
            self._writer.close()
        with self._readers_lock:
            for conn in self._readers:
                with suppress(sqlite3.Error):
                    conn.close()
            self._readers.clear()

    def __enter__(self) -> JobStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def store_stats(self) -> dict:
        """Health check for /health: the database answers a query. Never raises."""
        try:
            self._reader().execute("SELECT 1").fetchone()
            counts = self.counts_by_status()
        except (sqlite3.Error, StoreError) as exc:
            return {"ok": False, "error": str(exc), "path": str(self.db_path)}
        return {
            "ok": True,
            "path": str(self.db_path),
            "schema_version": SCHEMA_VERSION,
            "jobs_queued": counts.get(QUEUED, 0),
            "jobs_running": counts.get(RUNNING, 0),
            "store_id": self.store_id(),
        }

    # -- jobs: reads -------------------------------------------------------------------------

    def get_job(self, job_id: str) -> Job | None:
        row = (
            self._reader()
            .execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,))
            .fetchone()
        )
        return _row_to_job(row) if row else None

    def jobs_by_prefix(self, prefix: str, limit: int = 2) -> list[Job]:
        """Jobs whose id starts with `prefix`, to resolve short ids (2 reveal an ambiguity)."""
        pattern = _like_escape(prefix.lower()) + "%"
        rows = (
            self._reader()
            .execute(
                f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id LIKE ? ESCAPE '\\' ORDER BY id LIMIT ?",
                (pattern, limit),
            )
            .fetchall()
        )
        return [_row_to_job(row) for row in rows]

    def list_jobs(self, q: JobQuery, *, now: datetime | None = None) -> tuple[list[Job], int]:
        """One page of jobs, whole, and the total matching the filters (from one snapshot).

        `now` is the instant a running job's duration runs to when sorting by duration
        (default: the current time).
        """
        return self._list(q, now, _JOB_COLUMNS, _row_to_job)

    def list_page(
        self, q: JobQuery, *, now: datetime | None = None
    ) -> tuple[list[JobListItem], int]:
        """`list_jobs` with the list fields only: what a list page shows, read without the
        params and summary JSON it would decode and throw away."""
        return self._list(q, now, _LIST_COLUMNS, _row_to_list_item)

    def _list(
        self,
        q: JobQuery,
        now: datetime | None,
        columns: str,
        make: Callable[[sqlite3.Row], _T],
    ) -> tuple[list[_T], int]:
        if q.order not in ("asc", "desc"):
            raise ValueError(f"order must be 'asc' or 'desc', got {q.order!r}")
        if q.limit < 1 or q.offset < 0:
            raise ValueError("limit must be at least 1 and offset not negative")
        if q.sort not in _SORT_COLUMNS:
            raise ValueError(f"cannot sort by {q.sort!r}")
        found = _list_filter(q)
        with self._read() as conn:
            total = self._total(conn, q, found)
            if q.offset >= total:
                rows: list[sqlite3.Row] = []
            elif q.sort == "duration":
                now_text = format_timestamp(now) if now is not None else _now_text()
                rows = _DurationPage(conn, q, found, columns, now_text).rows()
            else:
                direction = "ASC" if q.order == "asc" else "DESC"
                column = _SORT_COLUMNS[q.sort]
                rows = conn.execute(
                    f"SELECT {columns} FROM {found.source()} {found.where()} "
                    f"ORDER BY {column} {direction}, id {direction} LIMIT ? OFFSET ?",
                    [*found.args, q.limit, q.offset],
                ).fetchall()
        return [make(row) for row in rows], total

    @staticmethod
    def _total(conn: sqlite3.Connection, q: JobQuery, found: _ListFilter) -> int:
        if _counted_by_counters(q):
            return conn.execute(
                f"SELECT coalesce(sum(jobs), 0) FROM job_counts {found.where()}", found.args
            ).fetchone()[0]
        return conn.execute(f"SELECT count(*) FROM jobs {found.where()}", found.args).fetchone()[0]

    def has_job_type(self, job_type: str) -> bool:
        """Whether any stored job has this type (a few counter rows)."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT 1 FROM job_counts WHERE job_type = ? AND jobs > 0 LIMIT 1", (job_type,)
            ).fetchone()
        return row is not None

    def change_counter(self) -> int:
        return self._reader().execute(_CHANGE_COUNTER).fetchone()[0]

    def change_counter_nowait(self) -> int:
        """`change_counter()` on a connection of the calling thread that never waits for a
        lock: StoreBusy instead, so an event loop can read it and go to a thread only then.

        In WAL mode a reader takes no lock a writer holds: it waits only while another
        connection recovers the WAL after a crash (StoreBusy here) or, for moments, while a
        writer resets the WAL (SQLite's own short retry, which no setting removes).
        """
        if self._closed:
            raise StoreError("the job store is closed")
        conn = getattr(self._local, "nowait", None)
        if conn is None:
            conn = self._connect()
            conn.execute("PRAGMA busy_timeout = 0")
            conn.execute("PRAGMA query_only = ON")
            conn.row_factory = None
            self._local.nowait = conn
            with self._readers_lock:
                self._readers.append(conn)
        try:
            return conn.execute(_CHANGE_COUNTER).fetchone()[0]
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorcode", 0) & 0xFF in (
                sqlite3.SQLITE_BUSY,
                sqlite3.SQLITE_LOCKED,
            ):
                raise StoreBusy(str(exc)) from exc
            raise

    def has_active_jobs(self) -> bool:
        """Whether any job is queued or running (two seeks in the status index): what the
        daemon's poll-interval hint depends on."""
        row = (
            self._reader()
            .execute(
                "SELECT EXISTS (SELECT 1 FROM jobs WHERE status = ?)"
                " OR EXISTS (SELECT 1 FROM jobs WHERE status = ?)",
                (QUEUED, RUNNING),
            )
            .fetchone()
        )
        return bool(row[0])

    def counts_by_status(self) -> dict[str, int]:
        """Jobs per status; the five known statuses are always present (0 when none)."""
        counts = dict.fromkeys(STATUSES, 0)
        for row in self._reader().execute(
            "SELECT status, sum(jobs) FROM job_counts GROUP BY status HAVING sum(jobs) > 0"
        ):
            counts[row[0]] = row[1]
        return counts

    def job_stats(self, ended_since: datetime) -> dict[str, int]:
        """Jobs queued and running now, and jobs that ended (completed, failed, cancelled) at or
        after `ended_since`, from one snapshot; every key always present."""
        stats = dict.fromkeys(STATUSES, 0)
        with self._read() as conn:
            for row in conn.execute(
                "SELECT status, count(*) FROM jobs WHERE status IN (?, ?) GROUP BY status",
                (QUEUED, RUNNING),
            ):
                stats[row[0]] = row[1]
            for row in conn.execute(
                "SELECT status, count(*) FROM jobs WHERE status IN (?, ?, ?) "
                "AND completed_at >= ? GROUP BY status",
                (COMPLETED, FAILED, CANCELLED, format_timestamp(ended_since)),
            ):
                stats[row[0]] = row[1]
        return stats

    def store_id(self) -> str:
        """The database's random id (schema 5), as 16 hex digits: the same file gives the same
        id to every process, another data dir a different one."""
        row = self._reader().execute("SELECT value FROM meta WHERE key = 'store_id'").fetchone()
        return f"{row[0]:016x}"

    def cancel_requested(self, job_id: str) -> bool:
        """Whether the job's runner should stop now: a cancel was asked for, or the job is
        gone or already ended (nobody wants more work on it).

        A job put back to `queued` (the daemon stopping) is not "cancel requested": its runner
        is stopped by the shutdown itself and must not turn the requeue into a cancel.
        """
        row = (
            self._reader()
            .execute("SELECT status, cancel_requested FROM jobs WHERE id = ?", (job_id,))
            .fetchone()
        )
        if row is None:
            return True
        return bool(row["cancel_requested"]) or row["status"] in TERMINAL

    # -- jobs: writes ------------------------------------------------------------------------

    def _fetch_for_write(self, conn: sqlite3.Connection, job_id: str) -> Job:
        row = conn.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise JobNotFound(job_id)
        return _row_to_job(row)

    def _update_job(
        self, conn: sqlite3.Connection, job_id: str, assignments: dict[str, object], now: str
    ) -> Job:
        """Apply column assignments, bump version and change_counter; return the new row."""
        columns = ", ".join(f"{name} = ?" for name in assignments)
        # Text values (error messages above all) may quote a file name that is not UTF-8.
        values = [_db_text(v) if isinstance(v, str) else v for v in assignments.values()]
        row = conn.execute(
            f"UPDATE jobs SET {columns}, version = version + 1, updated_at = ? "
            f"WHERE id = ? RETURNING {_JOB_COLUMNS}",
            [*values, now, job_id],
        ).fetchone()
        if row is None:
            raise JobNotFound(job_id)
        conn.execute(_BUMP_COUNTER)
        return _row_to_job(row)

    def create_job(
        self,
        job_type: str,
        file_path: str,
        *,
        params: dict | None = None,
        priority: int = 100,
        status: str = QUEUED,
        owner: str | None = None,
        created_at: datetime | None = None,
        retry_of: str | None = None,
    ) -> Job:
        """Insert a new job. status=RUNNING is for foreground runs (`vpo scan`): the job starts
        at once, owned by `owner` (default: this process), with attempts = 1.

        `created_at` backdates a job (tests of `since` and pruning); by default creation times
        strictly increase so jobs created in the same millisecond keep their order. `retry_of`
        is the id of the job this one repeats (see `retry_job`).
        """
        if not job_type or not isinstance(job_type, str):
            raise ValueError("job_type must be a non-empty string")
        if not isinstance(file_path, str) or not file_path:
            raise ValueError("file_path must be a non-empty string")
        stored_path = _db_path(file_path)
        if status not in (QUEUED, RUNNING):
            raise ValueError(f"a new job must be queued or running, not {status!r}")
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise ValueError(f"priority must be an integer, got {priority!r}")
        params_text = json.dumps(params or {}, sort_keys=True)
        job_id = str(uuid.uuid4())
        # Durable: the 201 that answers a POST promises the job exists.
        with self._write(durable=True) as conn:
            now_dt = utc_now()
            if created_at is None:
                latest = conn.execute("SELECT max(created_at) FROM jobs").fetchone()[0]
                created_dt = now_dt
                if latest is not None and format_timestamp(created_dt) <= latest:
                    created_dt = parse_timestamp(latest) + timedelta(milliseconds=1)
            else:
                created_dt = created_at
            created = format_timestamp(created_dt)
            running = status == RUNNING
            row = conn.execute(
                f"""INSERT INTO jobs (id, job_type, status, priority, file_path, created_at,
                        started_at, attempts, params, owner, updated_at, retry_of)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    RETURNING {_JOB_COLUMNS}""",
                (
                    job_id,
                    job_type,
                    status,
                    priority,
                    stored_path,
                    created,
                    format_timestamp(max(now_dt, created_dt)) if running else None,
                    1 if running else 0,
                    params_text,
                    (owner or process_owner()) if running else owner,
                    format_timestamp(now_dt),
                    retry_of,
                ),
            ).fetchone()
            conn.execute(_BUMP_COUNTER)
        return _row_to_job(row)

    def retry_job(self, job_id: str) -> Job:
        """A new queued job repeating an ended one: same type, target, parameters and priority,
        with `retry_of` naming it. Raises JobNotFound, or JobNotFinished while it is queued or
        running (an ended job never starts again, so the check cannot go stale)."""
        job = self.get_job(job_id)
        if job is None:
            raise JobNotFound(job_id)
        if job.status not in TERMINAL:
            raise JobNotFinished(job)
        return self.create_job(
            job.job_type, job.file_path, params=job.params, priority=job.priority, retry_of=job.id
        )

    def claim_next_job(self, owner: str) -> Job | None:
        """Atomically take the next queued job (priority, then creation order) for `owner`.

        The select and the status change are one UPDATE inside BEGIN IMMEDIATE, so two
        claimers, in threads or in separate processes, can never take the same job.
        """
        if not owner:
            raise ValueError("owner must be given")
        now = _now_text()
        with self._write() as conn:
            row = conn.execute(
                f"""UPDATE jobs SET status = 'running', owner = ?, started_at = ?,
                        completed_at = NULL, attempts = attempts + 1, cancel_requested = 0,
                        progress_percent = NULL, phase = NULL, processed_count = 0,
                        total_count = NULL, error_message = NULL,
                        version = version + 1, updated_at = ?
                    WHERE id = (SELECT id FROM jobs WHERE status = 'queued'
                                ORDER BY priority, created_at, id LIMIT 1)
                      AND status = 'queued'
                    RETURNING {_JOB_COLUMNS}""",
                (owner, now, now),
            ).fetchone()
            if row is None:
                return None
            # A new attempt starts with a clean error list; the scan records them again.
            conn.execute("DELETE FROM file_errors WHERE job_id = ?", (row["id"],))
            conn.execute(_BUMP_COUNTER)
        return _row_to_job(row)

    def update_progress(
        self,
        job_id: str,
        *,
        phase: str | None = None,
        processed: int | None = None,
        total: int | None = None,
        percent: float | None = None,
    ) -> bool:
        """Record progress of a running job; arguments left None keep their stored value.

        Returns False (and writes nothing) when the job is no longer running, so a late
        progress callback after a cancel or requeue is harmless. 100 is reserved for completed
        jobs (docs/design.md §4), so a running job's percent is held just below it.
        """
        _check_count("processed", processed)
        _check_count("total", total)
        if percent is not None:
            percent = float(percent)
            if not 0.0 <= percent <= 100.0:  # also rejects NaN
                raise ValueError(f"percent must be between 0 and 100, got {percent!r}")
            percent = min(percent, 99.9)
        assignments: dict[str, object] = {}
        if phase is not None:
            assignments["phase"] = phase
        if processed is not None:
            assignments["processed_count"] = processed
        if total is not None:
            assignments["total_count"] = total
        if percent is not None:
            assignments["progress_percent"] = percent
        now = _now_text()
        with self._write() as conn:
            job = self._fetch_for_write(conn, job_id)
            if job.status != RUNNING:
                return False
            if not assignments:
                return True
            self._update_job(conn, job_id, assignments, now)
        return True

    def finish_job(
        self,
        job_id: str,
        status: str,
        *,
        error_message: str | None = None,
        summary_raw: dict | None = None,
    ) -> Job:
        """End a queued or running job in a terminal status; completed sets progress to 100."""
        if status not in TERMINAL:
            raise ValueError(f"finish_job needs a terminal status, not {status!r}")
        summary_text = json.dumps(summary_raw) if summary_raw is not None else None
        now = _now_text()
        with self._write() as conn:
            job = self._fetch_for_write(conn, job_id)
            if job.is_terminal:
                raise JobAlreadyTerminal(job)
            assignments: dict[str, object] = {
                "status": status,
                "completed_at": now,
                "error_message": error_message,
            }
            if summary_text is not None:
                assignments["summary_raw"] = summary_text
            if status == COMPLETED:
                assignments["progress_percent"] = 100.0
            return self._update_job(conn, job_id, assignments, now)

    def request_cancel(self, job_id: str) -> Job:
        """Queued: cancelled at once. Running: flag set, the runner stops at its next file
        boundary. Raises JobNotFound or JobAlreadyTerminal.

        Committed durably before it returns: the answer to a cancel is a promise. Should the
        runner never see the flag (the process killed first), requeueing or orphan recovery
        end the job `cancelled` instead of running it again.
        """
        now = _now_text()
        with self._write(durable=True) as conn:
            job = self._fetch_for_write(conn, job_id)
            if job.is_terminal:
                raise JobAlreadyTerminal(job)
            if job.status == QUEUED:
                return self._update_job(
                    conn, job_id, {"status": CANCELLED, "completed_at": now}, now
                )
            if job.cancel_requested:
                return job
            # Running, or an unknown non-terminal status from a newer version: ask it to stop.
            return self._update_job(conn, job_id, {"cancel_requested": 1}, now)

    def requeue_job(self, job_id: str) -> Job:
        """Put a running job back in the queue (daemon shutdown) and return it.

        A job whose cancel was already answered is not requeued: it ends `cancelled`. attempts
        is kept, so repeated interruptions add up. Why it was requeued is the caller's to say
        in the job log: error_message is for jobs that failed.
        """
        now = _now_text()
        with self._write() as conn:
            job = self._fetch_for_write(conn, job_id)
            if job.is_terminal:
                raise JobAlreadyTerminal(job)
            if job.status == QUEUED:
                return job
            if job.cancel_requested:
                return self._cancel_interrupted(conn, job_id, now)
            return self._requeue(conn, job_id, now)

    def _cancel_interrupted(self, conn: sqlite3.Connection, job_id: str, now: str) -> Job:
        """End a job cancelled while running whose runner stopped before it noticed."""
        return self._update_job(
            conn,
            job_id,
            {"status": CANCELLED, "completed_at": now, "error_message": CANCELLED_MESSAGE},
            now,
        )

    def _requeue(self, conn: sqlite3.Connection, job_id: str, now: str) -> Job:
        return self._update_job(
            conn,
            job_id,
            {
                "status": QUEUED,
                "owner": None,
                "started_at": None,
                "completed_at": None,
                "cancel_requested": 0,
                "progress_percent": None,
                "phase": None,
                "processed_count": 0,
                "total_count": None,
                "error_message": None,
            },
            now,
        )

    def recover_orphans(
        self, is_owner_alive: Callable[[str], bool], max_attempts: int = 3
    ) -> list[tuple[Job, str]]:
        """Running jobs whose owner process is gone: requeued, failed once they have been
        interrupted `max_attempts` times, or cancelled when a cancel had been requested (and
        answered) before the process went. Returns (job after the change, outcome) with outcome
        "requeued", "failed" or "cancelled"; the caller says why in the job logs.

        A running job without an owner counts as orphaned: nobody can finish it.
        """
        rows = (
            self._reader().execute("SELECT id, owner FROM jobs WHERE status = 'running'").fetchall()
        )
        # Ask about owners outside the transaction: the callback may be slow.
        dead = [
            (row["id"], row["owner"])
            for row in rows
            if not row["owner"] or not is_owner_alive(row["owner"])
        ]
        outcomes: list[tuple[Job, str]] = []
        if not dead:
            return outcomes
        now = _now_text()
        with self._write() as conn:
            for job_id, owner in dead:
                job = self._fetch_for_write(conn, job_id)
                # Skip jobs that changed meanwhile (finished, or claimed by a live owner).
                if job.status != RUNNING or job.owner != owner:
                    continue
                if job.cancel_requested:
                    outcomes.append((self._cancel_interrupted(conn, job_id, now), "cancelled"))
                elif job.attempts >= max_attempts:
                    message = (
                        f"Interrupted {job.attempts} times (the process running it stopped "
                        f"each time); giving up after {job.attempts} attempts."
                    )
                    updated = self._update_job(
                        conn,
                        job_id,
                        {"status": FAILED, "completed_at": now, "error_message": message},
                        now,
                    )
                    outcomes.append((updated, "failed"))
                else:
                    outcomes.append((self._requeue(conn, job_id, now), "requeued"))
        return outcomes

    def prune_jobs(self, older_than: datetime) -> list[str]:
        """Delete terminal jobs that ended before `older_than`, with their errors and their
        log files. Files keep their rows (last_job_id becomes NULL). Returns the ids."""
        cutoff = format_timestamp(older_than)
        with self._write() as conn:
            rows = conn.execute(
                "DELETE FROM jobs WHERE status IN (?, ?, ?) "
                "AND COALESCE(completed_at, created_at) < ? RETURNING id",
                (*sorted(TERMINAL), cutoff),
            ).fetchall()
            if rows:
                conn.execute(_BUMP_COUNTER)
        ids = [row["id"] for row in rows]
        # After the commit: a log is only removed once its job row is surely gone.
        for job_id in ids:
            joblog.delete_log(self.logs_dir, job_id)
        return ids

    # -- files -------------------------------------------------------------------------------

    def known_files(self, roots: list[str]) -> dict[str, KnownFile]:
        """Files stored under any of `roots` (whole path segments), keyed by path."""
        known: dict[str, KnownFile] = {}
        conn = self._reader()
        for root in roots:
            for clause, args in _under_root_clauses(root):
                for row in conn.execute(
                    "SELECT path, size, mtime, scan_status, hash, container, error_kind FROM files "
                    f"WHERE {clause}",
                    args,
                ):
                    path = _path_from_db(row["path"])
                    known[path] = KnownFile(
                        path=path,
                        size=row["size"],
                        mtime=row["mtime"],
                        scan_status=row["scan_status"],
                        content_hash=row["hash"],
                        probed=row["container"] is not None,
                        error_kind=row["error_kind"],
                    )
        return known

    def save_scanned_files(self, job_id: str, files: list[ScannedFile]) -> None:
        """Store a batch of scan results in one transaction: each file's row is upserted and
        its streams replaced; files with scan_status 'error' are also listed as job errors."""
        for scanned in files:
            if scanned.scan_status not in ("ok", "error"):
                raise ValueError(
                    f"scan_status of {scanned.path} must be 'ok' or 'error', "
                    f"not {scanned.scan_status!r}"
                )
            if scanned.scan_status == "error" and not scanned.scan_error:
                raise ValueError(f"{scanned.path} has scan_status 'error' but no scan_error")
        now = _now_text()
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM jobs WHERE id = ?", (job_id,)).fetchone() is None:
                raise JobNotFound(job_id)
            for scanned in files:
                file_id = conn.execute(
                    """INSERT INTO files (path, size, mtime, hash, container, duration,
                            scan_status, scan_error, error_kind, last_job_id, updated_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        ON CONFLICT (path) DO UPDATE SET size = excluded.size,
                            mtime = excluded.mtime, hash = excluded.hash,
                            container = excluded.container, duration = excluded.duration,
                            scan_status = excluded.scan_status,
                            scan_error = excluded.scan_error,
                            error_kind = excluded.error_kind,
                            last_job_id = excluded.last_job_id,
                            updated_at = excluded.updated_at
                        RETURNING id""",
                    (
                        _db_path(scanned.path),
                        scanned.size,
                        scanned.mtime,
                        scanned.content_hash,
                        scanned.container,
                        scanned.duration,
                        scanned.scan_status,
                        _db_text(scanned.scan_error),
                        scanned.error_kind if scanned.scan_status == "error" else None,
                        job_id,
                        now,
                    ),
                ).fetchone()[0]
                conn.execute("DELETE FROM streams WHERE file_id = ?", (file_id,))
                conn.executemany(
                    """INSERT INTO streams (file_id, stream_index, stream_type, codec,
                            language, channels, width, height)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                    [
                        (
                            file_id,
                            s.index,
                            s.codec_type,
                            s.codec_name,
                            s.language,
                            s.channels,
                            s.width,
                            s.height,
                        )
                        for s in scanned.streams
                    ],
                )
                if scanned.scan_status == "error":
                    self._insert_error(conn, job_id, scanned.path, scanned.scan_error or "", now)
            if any(scanned.scan_status == "error" for scanned in files):
                # The job's errors_count changed: its detail must get a new tag.
                conn.execute(_BUMP_COUNTER)

    def record_file_errors(self, job_id: str, errors: list[tuple[str, str]]) -> None:
        """Record (path, message) errors not tied to a stored file, e.g. an unreadable
        directory found during discovery."""
        now = _now_text()
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM jobs WHERE id = ?", (job_id,)).fetchone() is None:
                raise JobNotFound(job_id)
            for path, message in errors:
                self._insert_error(conn, job_id, path, message, now)
            if errors:
                conn.execute(_BUMP_COUNTER)  # errors_count is part of the job's detail

    @staticmethod
    def _insert_error(
        conn: sqlite3.Connection, job_id: str, path: str, message: str, now: str
    ) -> None:
        # One entry per path and job: a retried step replaces its earlier message.
        conn.execute(
            """INSERT INTO file_errors (job_id, path, message, created_at) VALUES (?, ?, ?, ?)
                ON CONFLICT (job_id, path) DO UPDATE SET message = excluded.message""",
            (job_id, _db_path(path), _db_text(message), now),
        )

    def mark_missing(self, roots: list[str], seen: set[str], job_id: str) -> int:
        """Mark files stored under `roots` but not in `seen` as missing; returns how many.

        Roots match whole path segments: a scan of /tv never touches /tv2.
        """
        # Rows are read one at a time and only the gone paths kept: after a first scan of
        # 100,000 files, a KnownFile per stored file would be the scan's largest allocation.
        conn = self._reader()
        gone = [
            path
            for root in roots
            for clause, args in _under_root_clauses(root)
            for row in conn.execute(f"SELECT path, scan_status FROM files WHERE {clause}", args)
            if row["scan_status"] != "missing" and (path := _path_from_db(row["path"])) not in seen
        ]
        if not gone:
            return 0
        now = _now_text()
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM jobs WHERE id = ?", (job_id,)).fetchone() is None:
                raise JobNotFound(job_id)
            changed = 0
            for path in gone:
                cursor = conn.execute(
                    """UPDATE files SET scan_status = 'missing', scan_error = NULL,
                            error_kind = NULL, last_job_id = ?, updated_at = ?
                        WHERE path = ? AND scan_status != 'missing'""",
                    (job_id, now, _db_path(path)),
                )
                changed += cursor.rowcount
        return changed

    def file_errors(self, job_id: str, limit: int, offset: int) -> tuple[list[FileError], int]:
        """A page of a job's per-file errors (in the order found) and their true total."""
        if limit < 1 or offset < 0:
            raise ValueError("limit must be at least 1 and offset not negative")
        with self._read() as conn:
            total = conn.execute(
                "SELECT count(*) FROM file_errors WHERE job_id = ?", (job_id,)
            ).fetchone()[0]
            rows = conn.execute(
                """SELECT job_id, path, message, created_at FROM file_errors
                    WHERE job_id = ? ORDER BY id LIMIT ? OFFSET ?""",
                (job_id, limit, offset),
            ).fetchall()
        errors = [
            FileError(
                path=_path_from_db(row["path"]),
                message=row["message"],
                job_id=row["job_id"],
                created_at=row["created_at"],
            )
            for row in rows
        ]
        return errors, total

    def error_count(self, job_id: str) -> int:
        """How many per-file errors the job has recorded so far (one indexed count)."""
        row = (
            self._reader()
            .execute("SELECT count(*) FROM file_errors WHERE job_id = ?", (job_id,))
            .fetchone()
        )
        return row[0]

    def get_file(self, path: str) -> FileRecord | None:
        with self._read() as conn:
            row = conn.execute(
                """SELECT id, path, size, mtime, hash, container, duration, scan_status,
                        scan_error, last_job_id, updated_at FROM files WHERE path = ?""",
                (_db_path(path),),
            ).fetchone()
            if row is None:
                return None
            streams = [
                ScannedStream(
                    index=s["stream_index"],
                    codec_type=s["stream_type"],
                    codec_name=s["codec"],
                    language=s["language"],
                    channels=s["channels"],
                    width=s["width"],
                    height=s["height"],
                )
                for s in conn.execute(
                    "SELECT * FROM streams WHERE file_id = ? ORDER BY stream_index", (row["id"],)
                )
            ]
        return FileRecord(
            path=_path_from_db(row["path"]),
            size=row["size"],
            mtime=row["mtime"],
            content_hash=row["hash"],
            container=row["container"],
            duration=row["duration"],
            scan_status=row["scan_status"],
            scan_error=row["scan_error"],
            last_job_id=row["last_job_id"],
            updated_at=row["updated_at"],
            streams=streams,
        )


def _under_root_clauses(root: str) -> list[tuple[str, list[object]]]:
    """SQL matching paths equal to `root` or below it on a whole segment boundary: one clause
    for the TEXT paths and one for the BLOB paths (names that are not UTF-8).

    A range on the path index rather than LIKE: LIKE ignores ASCII case, and /TV is not /tv.
    Everything below "/tv/" sorts in ["/tv/", "/tv0") because "0" follows "/"; SQLite orders
    TEXT before every BLOB and BLOBs byte by byte, so a TEXT range never meets a BLOB and the
    BLOB range is the same range in bytes. Below a root that is not UTF-8 every name is a BLOB.
    """
    trimmed = root.rstrip("/")
    blob_trimmed = os.fsencode(trimmed)
    clauses = [_range_clause(blob_trimmed, blob_trimmed + b"/", blob_trimmed + b"0")]
    if is_utf8(trimmed):
        clauses.insert(0, _range_clause(trimmed, trimmed + "/", trimmed + "0"))
    return clauses


def _range_clause(
    trimmed: str | bytes, prefix: str | bytes, upper: str | bytes
) -> tuple[str, list[object]]:
    if not trimmed:
        return "(path >= ? AND path < ?)", [prefix, upper]
    return "(path = ? OR (path >= ? AND path < ?))", [trimmed, prefix, upper]
