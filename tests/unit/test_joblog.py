"""Per-job log files: line format, visibility while the writer is open, paging over big files."""

from __future__ import annotations

import errno
import os
import re
import threading
from pathlib import Path

import pytest

from tests.support.small_disk import fill, small_disk
from vpo import joblog
from vpo.joblog import JobLog, LogPage, has_log, log_path, read_log

JOB_ID = "3f2b9c1e-0000-4000-8000-000000000001"
LINE_PATTERN = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (INFO |WARN |ERROR|DEBUG) .*$")


def test_lines_have_a_timestamp_and_a_level(tmp_path: Path) -> None:
    with JobLog(tmp_path, JOB_ID) as log:
        log.info("scan started")
        log.warning("ffprobe not found")
        log.error("broken file")
        log.debug("detail")
    page = read_log(tmp_path, JOB_ID)
    assert page.total_lines == 4 and page.has_more is False
    assert all(LINE_PATTERN.match(line) for line in page.lines), page.lines
    assert [line[25:] for line in page.lines] == [
        "INFO  scan started",
        "WARN  ffprobe not found",
        "ERROR broken file",
        "DEBUG detail",
    ]


def test_newlines_in_a_message_stay_on_one_line(tmp_path: Path) -> None:
    with JobLog(tmp_path, JOB_ID) as log:
        log.error("ffprobe said:\nInvalid data\r\nfound at C:\\x")
    page = read_log(tmp_path, JOB_ID)
    assert page.total_lines == 1
    assert page.lines[0].endswith("ffprobe said:\\nInvalid data\\r\\nfound at C:\\\\x")


def test_a_file_name_that_is_not_utf8_is_logged_with_its_bytes_escaped(tmp_path: Path) -> None:
    name = os.fsdecode(b"/lib/bad\xff.mkv")
    with JobLog(tmp_path, JOB_ID) as log:
        log.error(f"{name}: ffprobe failed")
        log.info("a literal \\xff stays apart")
    lines = read_log(tmp_path, JOB_ID).lines
    assert lines[0].endswith("ERROR /lib/bad\\xff.mkv: ffprobe failed")
    # The log's own escapes double a real backslash, so the two cannot be confused.
    assert lines[1].endswith("a literal \\\\xff stays apart")


def test_a_reader_sees_each_line_while_the_writer_is_still_open(tmp_path: Path) -> None:
    log = JobLog(tmp_path, JOB_ID)
    try:
        assert has_log(tmp_path, JOB_ID)
        assert read_log(tmp_path, JOB_ID).total_lines == 0
        for n in range(1, 4):
            log.info(f"step {n}")
            # Read through a separate file handle, as the API does: the line must already be
            # in the file, not in the writer's buffer.
            page = read_log(tmp_path, JOB_ID)
            assert page.total_lines == n
            assert page.lines[-1].endswith(f"step {n}")
        assert not log.closed
    finally:
        log.close()


def test_a_reopened_log_appends(tmp_path: Path) -> None:
    with JobLog(tmp_path, JOB_ID) as log:
        log.info("attempt 1")
    with JobLog(tmp_path, JOB_ID) as log:
        log.info("attempt 2")
    assert [line[31:] for line in read_log(tmp_path, JOB_ID).lines] == ["attempt 1", "attempt 2"]


def test_writing_after_close_is_an_error(tmp_path: Path) -> None:
    log = JobLog(tmp_path, JOB_ID)
    log.close()
    with pytest.raises(ValueError, match="closed"):
        log.info("too late")


def test_concurrent_writers_never_interleave_lines(tmp_path: Path) -> None:
    log = JobLog(tmp_path, JOB_ID)

    def write(worker: int) -> None:
        for n in range(300):
            log.info(f"worker {worker} line {n} " + "x" * 200)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    log.close()
    page = read_log(tmp_path, JOB_ID, lines=1000, offset=0)
    assert page.total_lines == 1200
    rest = read_log(tmp_path, JOB_ID, lines=1000, offset=1000)
    lines = page.lines + rest.lines
    assert all(re.match(r".{25}INFO  worker \d line \d+ x{200}$", line) for line in lines)


def write_numbered_lines(path: Path, count: int, width: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        for n in range(count):
            handle.write(f"line {n}{'.' * width}\n")


def test_paging_a_200k_line_log(tmp_path: Path) -> None:
    write_numbered_lines(log_path(tmp_path, JOB_ID), 200_000)
    first = read_log(tmp_path, JOB_ID, lines=500)
    assert first == LogPage(
        lines=[f"line {n}" for n in range(500)], total_lines=200_000, offset=0, has_more=True
    )
    middle = read_log(tmp_path, JOB_ID, lines=1000, offset=123_456)
    assert middle.lines == [f"line {n}" for n in range(123_456, 124_456)]
    assert middle.total_lines == 200_000 and middle.has_more is True
    last = read_log(tmp_path, JOB_ID, lines=1000, offset=199_900)
    assert last.lines == [f"line {n}" for n in range(199_900, 200_000)]
    assert last.has_more is False
    beyond = read_log(tmp_path, JOB_ID, lines=10, offset=250_000)
    assert beyond == LogPage(lines=[], total_lines=200_000, offset=250_000, has_more=False)


@pytest.mark.parametrize("chunk", [1, 3, 7, 64])
def test_lines_spanning_chunk_boundaries(tmp_path: Path, monkeypatch, chunk: int) -> None:
    """Tiny chunks force lines to straddle reads; every window must match a plain split."""
    monkeypatch.setattr(joblog, "READ_CHUNK_BYTES", chunk)
    path = log_path(tmp_path, JOB_ID)
    path.write_text("".join(f"{n} {'ü' * (n % 5)}\n" for n in range(40)) + "\n\n")
    expected = path.read_text().split("\n")[:-1]
    for offset in (0, 1, 13, 39, 40, 41, 42, 50):
        for lines in (1, 2, 9, 100):
            page = read_log(tmp_path, JOB_ID, lines=lines, offset=offset)
            assert page.lines == expected[offset : offset + lines], (offset, lines)
            assert page.total_lines == 42
            assert page.has_more == (offset + len(page.lines) < 42)


def test_a_half_written_last_line_is_not_returned(tmp_path: Path) -> None:
    path = log_path(tmp_path, JOB_ID)
    path.write_text("complete\nhalf a li")
    page = read_log(tmp_path, JOB_ID)
    assert page.lines == ["complete"] and page.total_lines == 1
    assert joblog.count_lines(tmp_path, JOB_ID) == 1


def test_count_lines(tmp_path: Path, monkeypatch) -> None:
    assert joblog.count_lines(tmp_path, JOB_ID) == 0
    monkeypatch.setattr(joblog, "READ_CHUNK_BYTES", 10)
    write_numbered_lines(log_path(tmp_path, JOB_ID), 1234)
    assert joblog.count_lines(tmp_path, JOB_ID) == 1234


def test_a_missing_log_is_an_empty_page(tmp_path: Path) -> None:
    assert not has_log(tmp_path, JOB_ID)
    assert read_log(tmp_path, JOB_ID, offset=5) == LogPage([], 0, 5, False)
    assert joblog.delete_log(tmp_path, JOB_ID) is False


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="lines"):
        read_log(tmp_path, JOB_ID, lines=0)
    with pytest.raises(ValueError, match="offset"):
        read_log(tmp_path, JOB_ID, offset=-1)
    for bad_id in ("../etc/passwd", "a/b", "..", ""):
        with pytest.raises(ValueError, match="invalid job id"):
            log_path(tmp_path, bad_id)


def test_delete_log(tmp_path: Path) -> None:
    with JobLog(tmp_path, JOB_ID) as log:
        log.info("x")
    assert joblog.delete_log(tmp_path, JOB_ID) is True
    assert not has_log(tmp_path, JOB_ID)


def test_a_log_on_a_full_device_raises_enospc_and_still_closes(tmp_path: Path) -> None:
    # /dev/full answers every write with ENOSPC, as a full disk does.
    log_path(tmp_path, JOB_ID).symlink_to("/dev/full")
    log = JobLog(tmp_path, JOB_ID)
    with pytest.raises(OSError) as raised:
        log.info("scan started")
    assert raised.value.errno == errno.ENOSPC
    log.close()  # nothing is left in a buffer to fail again here
    assert log.closed


def test_a_line_cut_short_by_a_full_disk_is_ended_before_the_next_one(tmp_path: Path) -> None:
    # What a writer stopped by a full disk half way through a line leaves behind.
    log_path(tmp_path, JOB_ID).write_bytes(b"2026-11-30T06:13:23.123Z INFO  half a li")
    with JobLog(tmp_path, JOB_ID) as log:
        log.info("space again")
        log.info("and more")
    page = read_log(tmp_path, JOB_ID)
    assert page.lines[0].endswith("half a li")
    assert [line[25:] for line in page.lines[1:]] == ["INFO  space again", "INFO  and more"]


def test_a_line_cut_short_on_a_real_full_disk_does_not_swallow_the_next(tmp_path: Path) -> None:
    long_line = "x" * 9000  # ends part way into a memory page of the tmpfs
    with small_disk(tmp_path / "disk", size="256k") as disk:
        log = JobLog(disk, JOB_ID)
        log.info(long_line)
        filler = fill(disk)
        # Only the rest of the log's last page is free: the line is written in part.
        with pytest.raises(OSError) as raised:
            log.info(long_line)
        assert raised.value.errno == errno.ENOSPC
        filler.unlink()
        log.info("space again")
        log.close()
        page = read_log(disk, JOB_ID)
    assert len(page.lines) == 3, [line[:40] for line in page.lines]
    assert page.lines[0][25:] == "INFO  " + long_line
    cut = page.lines[1]
    assert len(cut) < len(page.lines[0]) and ("INFO  " + long_line).startswith(cut[25:])
    assert page.lines[2][25:] == "INFO  space again"
