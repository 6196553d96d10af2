"""Per-job log files `logs/<job_id>.log`: writing lines as they happen, reading them in pages.

A line is `<ISO timestamp> <LEVEL padded to 5> <message>`, e.g.
`2026-11-30T06:13:23.123Z INFO  found 120 files`. Each line is flushed as soon as it is written
so a reader (the API, `tail -f`) sees it at once. Newlines inside a message are escaped so one
call is always one line, which keeps line counts and paging offsets honest.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

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
        # Append mode: a requeued job keeps the lines of its earlier attempts.
        self._file = open(self.path, "a", encoding="utf-8", buffering=1, newline="\n")  # noqa: SIM115

    def write(self, level: str, message: str) -> None:
        line = format_line(level.upper(), str(message))
        with self._lock:
            if self._file.closed:
                raise ValueError(f"log {self.path} is closed")
            self._file.write(line)
            self._file.flush()

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
