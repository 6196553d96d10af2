"""Per-job log files `logs/<job_id>.log`: writing lines as they happen, reading them in pages.

A line is `<ISO timestamp> <LEVEL padded to 5> <message>`, e.g.
`2026-11-30T06:13:23.123Z INFO  found 120 files`. Each line reaches the file as soon as it is
written (no buffer) so a reader (the API, `tail -f`) sees it at once. Newlines inside a message
are escaped so one call is always one line, which keeps line counts and paging offsets honest.

On a full disk a write fails with OSError (ENOSPC) and the line is lost, never kept in a buffer
to surface later or block closing; a line cut short by the disk filling up is ended before the
next one, so it never swallows the line after it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from vpo.jobs import format_timestamp, utc_now
from vpo.pathtext import escape_undecodable

# Reading in fixed chunks keeps memory flat however long a log grows.
READ_CHUNK_BYTES = 64 * 1024
MAX_PAGE_LINES = 1000


def log_path(logs_dir: Path, job_id: str) -> Path:
    """Where a job's log lives. Refuses ids that could escape the logs directory."""
    if not job_id or "/" in job_id or "\\" in job_id or job_id in (".", "..") or "\0" in job_id:
        raise ValueError(f"invalid job id for a log file name: {job_id!r}")
    return Path(logs_dir) / f"{job_id}.log"


def has_log(logs_dir: Path, job_id: str) -> bool:
    """True when the job has a log file (even an empty one: the job was started)."""
    return log_path(logs_dir, job_id).is_file()


def delete_log(logs_dir: Path, job_id: str) -> bool:
    """Remove a job's log file; True if one was removed. A missing file is not an error."""
    try:
        log_path(logs_dir, job_id).unlink()
    except FileNotFoundError:
        return False
    return True


def escape_message(message: str) -> str:
    """Keep a message on one line: backslashes are doubled and CR/LF become \\r / \\n. Bytes
    of a file name that are not UTF-8 (held as surrogates) become \\xNN; after the doubling,
    so that escape cannot be confused with a backslash that was in the message."""
    escaped = message.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")
    return escape_undecodable(escaped)


def format_line(level: str, message: str) -> str:
    return f"{format_timestamp(utc_now())} {level:<5} {escape_message(message)}\n"


class JobLog:
    """The writer for one job's log; thread safe (a scan logs from its probe threads)."""

    def __init__(self, logs_dir: Path, job_id: str) -> None:
        self.path = log_path(logs_dir, job_id)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # Append mode: a requeued job keeps the lines of its earlier attempts. Unbuffered, so a
        # failed write loses its line at once instead of leaving bytes that fail again on close.
        self._file = open(self.path, "ab", buffering=0)  # noqa: SIM115
        # True while the file ends inside a line (a write stopped part way, maybe by an
        # earlier writer of this log).
        self._torn = _ends_inside_a_line(self.path)

    def write(self, level: str, message: str) -> None:
        """Append one line; raises OSError (e.g. ENOSPC on a full disk) if it cannot."""
        data = format_line(level.upper(), str(message)).encode("utf-8")
        with self._lock:
            if self._file.closed:
                raise ValueError(f"log {self.path} is closed")
            if self._torn:
                data = b"\n" + data
            _write_all(self._file, data, self._note_last_byte)

    def _note_last_byte(self, last: int) -> None:
        self._torn = last != ord("\n")

    def debug(self, message: str) -> None:
        self.write("DEBUG", message)

    def info(self, message: str) -> None:
        self.write("INFO", message)

    def warning(self, message: str) -> None:
        self.write("WARN", message)

    def error(self, message: str) -> None:
        self.write("ERROR", message)

    @property
    def closed(self) -> bool:
        return self._file.closed

    def close(self) -> None:
        with self._lock:
            self._file.close()

    def __enter__(self) -> JobLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _ends_inside_a_line(path: Path) -> bool:
    with open(path, "rb") as handle:
        if handle.seek(0, os.SEEK_END) == 0:
            return False
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) != b"\n"


def _write_all(handle: BinaryIO, data: bytes, on_written: Callable[[int], None]) -> None:
    """Write all of `data` (a disk filling up writes part of it, then fails), telling
    `on_written` the last byte that reached the file after each write."""
    view = memoryview(data)
    while view:
        written = handle.write(view) or 0
        if written:
            on_written(view[written - 1])
        view = view[written:]


def check_room(logs_dir: Path, size: int) -> None:
    """Raise OSError (ENOSPC) unless `size` bytes can be written in the logs directory now.

    The bytes are written to a scratch file and synced (some file systems only find out at
    write-back that there was no room), then the file is removed.
    """
    scratch = Path(logs_dir) / ".room-check"
    scratch.parent.mkdir(parents=True, exist_ok=True)  # JobLog would create it as well
    try:
        with open(scratch, "wb", buffering=0) as handle:
            _write_all(handle, b"\0" * size, lambda _last: None)
            os.fsync(handle.fileno())
    finally:
        scratch.unlink(missing_ok=True)


def count_lines(logs_dir: Path, job_id: str) -> int:
    """Complete lines in a job's log (0 when there is none), counted chunk by chunk; a client
    that wants the tail asks for offset = count - n."""
    try:
        handle = open(log_path(logs_dir, job_id), "rb")  # noqa: SIM115
    except FileNotFoundError:
        return 0
    with handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(READ_CHUNK_BYTES), b""))


@dataclass(frozen=True)
class LogPage:
    lines: list[str]
    total_lines: int
    offset: int
    has_more: bool


def read_log(logs_dir: Path, job_id: str, *, lines: int = 500, offset: int = 0) -> LogPage:
    """Lines [offset, offset + lines) of a job's log plus the total line count.

    Streams the file in chunks: bytes before and after the window are only counted, never kept.
    Only newline-terminated lines count, so a line the writer is half way through is never
    returned torn; it shows up complete on the next read. A missing file is an empty page.
    """
    if lines < 1:
        raise ValueError(f"lines must be at least 1, got {lines}")
    if offset < 0:
        raise ValueError(f"offset must not be negative, got {offset}")
    path = log_path(logs_dir, job_id)
    window_end = offset + lines
    collected: list[bytes] = []
    total = 0  # complete lines seen so far == index of the line being read
    carry = b""  # start of the current line, kept only while that line is inside the window
    try:
        handle = open(path, "rb")  # noqa: SIM115
    except FileNotFoundError:
        return LogPage(lines=[], total_lines=0, offset=offset, has_more=False)
    with handle:
        while chunk := handle.read(READ_CHUNK_BYTES):
            newlines = chunk.count(b"\n")
            # Only split chunks that touch the window; everything else is just counted.
            if total >= window_end or total + newlines < offset:
                total += newlines
                carry = b""
                continue
            pieces = chunk.split(b"\n")
            pieces[0] = carry + pieces[0]
            for index, piece in enumerate(pieces[:-1], start=total):
                if offset <= index < window_end:
                    collected.append(piece)
            total += newlines
            carry = pieces[-1] if offset <= total < window_end else b""
    text_lines = [raw.decode("utf-8", errors="replace").rstrip("\r") for raw in collected]
    return LogPage(
        lines=text_lines,
        total_lines=total,
        offset=offset,
        has_more=offset + len(text_lines) < total,
    )
