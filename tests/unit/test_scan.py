"""The scan pipeline on real files: real SQLite store, real Rust core, real ffprobe.

Videos come from ffmpeg (tests/support/media.py). Progress, cancellation and the "file vanished"
case are driven from the scan's own progress callback, so every test is deterministic without
sleeping.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.daemon import wait_until
from tests.support.media import build_library, build_many, fresh_scan_summary, write_corrupt_video
from vpo.joblog import JobLog, read_log
from vpo.jobs import RUNNING, SCAN
from vpo.scan import (
    PERCENT_CEILING,
    PROBER_MISSING_MESSAGE,
    ProbeError,
    ProbeStopped,
    Progress,
    ProgressRecorder,
    ScanCancelled,
    ScanOptions,
    _unique_discovered,
    describe_walk_errors,
    ffprobe_error_message,
    needs_scan,
    overall_percent,
    parse_ffprobe_json,
    probe_file,
    run_scan,
    unique_roots,
)
from vpo.store import ERROR_PROBE, JobQuery, JobStore, KnownFile

# --------------------------------------------------------------------------------------------
# Pure parts


def test_parse_ffprobe_json_takes_container_duration_and_stream_fields():
    text = json.dumps(
        {
            "streams": [
                {
                    "index": 0,
                    "codec_type": "video",
                    "codec_name": "hevc",
                    "width": 1920,
                    "height": 1080,
                    "tags": {"language": "und"},
                },
                {
                    "index": 1,
                    "codec_type": "audio",
                    "codec_name": "eac3",
                    "channels": 6,
                    "tags": {"language": "ger", "title": "Deutsch"},
                },
                {"index": 2, "codec_type": "subtitle", "codec_name": "subrip"},
            ],
            "format": {"format_name": "matroska,webm", "duration": "2637.504000"},
        }
    )
    result = parse_ffprobe_json(text)
    assert result.container == "matroska,webm"
    assert result.duration == pytest.approx(2637.504)
    video, audio, subtitle = result.streams
    assert (video.index, video.codec_type, video.codec_name) == (0, "video", "hevc")
    assert (video.width, video.height, video.channels) == (1920, 1080, None)
    assert (audio.codec_name, audio.channels, audio.language) == ("eac3", 6, "ger")
    assert (audio.width, audio.height) == (None, None)
    # Nothing ffprobe left out is filled in.
    assert (subtitle.language, subtitle.channels, subtitle.width) == (None, None, None)


def test_parse_ffprobe_json_leaves_unknown_duration_empty():
    result = parse_ffprobe_json(json.dumps({"format": {"format_name": "avi", "duration": "N/A"}}))
    assert result.container == "avi"
    assert result.duration is None
    assert result.streams == []


@pytest.mark.parametrize("text", ["", "not json", "[1, 2]"])
def test_parse_ffprobe_json_rejects_output_that_is_not_an_object(text):
    with pytest.raises(ProbeError):
        parse_ffprobe_json(text)


def test_ffprobe_error_message_is_the_last_stderr_line():
    stderr = (
        "[matroska,webm @ 0x55] EBML header parsing failed\n"
        "/lib/x.mkv: Invalid data found when processing input\n\n"
    )
    assert ffprobe_error_message(1, stderr) == (
        "probe failed: /lib/x.mkv: Invalid data found when processing input"
    )
    assert ffprobe_error_message(1, "") == "probe failed: exit status 1"
    assert ffprobe_error_message(1, stderr, "/lib/x.mkv") == (
        "probe failed: Invalid data found when processing input"
    )


def test_overall_percent_stays_below_100_and_counts_skipped_files_as_done():
    assert overall_percent(0, 0, 0, 0, probing=True) == 0.0
    assert overall_percent(10, 10, 0, 0, probing=True) == PERCENT_CEILING
    assert overall_percent(10, 0, 10, 10, probing=True) == PERCENT_CEILING
    assert overall_percent(10, 0, 10, 0, probing=True) == pytest.approx(20.0)
    assert overall_percent(10, 0, 10, 5, probing=True) == pytest.approx(60.0)
    # Hashing everything then finishing files only ever moves the percentage up.
    steps = [overall_percent(4, 0, hashed, 0, True) for hashed in range(5)]
    steps += [overall_percent(4, 0, 4, finished, True) for finished in range(5)]
    assert steps == sorted(steps)


def test_needs_scan_skips_only_unchanged_ok_files():
    known = KnownFile(path="/a.mkv", size=10, mtime=5.5, scan_status="ok")
    assert needs_scan(None, 10, 5.5, full=False)
    assert not needs_scan(known, 10, 5.5, full=False)
    assert needs_scan(known, 10, 5.5, full=True)
    assert needs_scan(known, 11, 5.5, full=False)
    assert needs_scan(known, 10, 6.0, full=False)
    for status in ("error", "missing"):
        again = KnownFile(path="/a.mkv", size=10, mtime=5.5, scan_status=status)
        assert needs_scan(again, 10, 5.5, full=False)
    # ffprobe rejected the unchanged content: asking again would give the same answer.
    rejected = KnownFile(
        path="/a.mkv", size=10, mtime=5.5, scan_status="error", error_kind=ERROR_PROBE, probed=False
    )
    assert not needs_scan(rejected, 10, 5.5, full=False)
    assert needs_scan(rejected, 10, 6.0, full=False)
    assert needs_scan(rejected, 10, 5.5, full=True)
    # Recorded while ffprobe was missing: probed as soon as ffprobe is there, not before.
    unprobed = KnownFile(path="/a.mkv", size=10, mtime=5.5, scan_status="ok", probed=False)
    assert needs_scan(unprobed, 10, 5.5, full=False, can_probe=True)
    assert not needs_scan(unprobed, 10, 5.5, full=False, can_probe=False)


def test_unique_roots_resolves_and_deduplicates(tmp_path):
    (tmp_path / "tv").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "tv")
    roots = unique_roots([str(tmp_path / "tv"), str(tmp_path / "link"), str(tmp_path / "tv/")])
    assert roots == [os.path.realpath(tmp_path / "tv")]


def test_progress_recorder_throttles_writes_but_flushes_a_pending_change(tmp_path):
    store = JobStore(tmp_path / "data")
    job = store.create_job(SCAN, "/lib", status=RUNNING)
    seen: list[Progress] = []
    now = [100.0]  # a fake clock: the throttle is about time, and real time is noisy here
    recorder = ProgressRecorder(store, job.id, seen.append, min_interval=0.25, clock=lambda: now[0])
    recorder.report(Progress("probe", 1, 10, 10.0))
    now[0] += 0.125
    recorder.report(Progress("probe", 2, 10, 20.0))
    # Every change reaches the callback; the second write waits for the interval.
    assert [p.processed for p in seen] == [1, 2]
    assert store.get_job(job.id).processed_count == 1
    recorder.flush_if_due()
    assert store.get_job(job.id).processed_count == 1
    now[0] += 0.125
    recorder.flush_if_due()
    assert store.get_job(job.id).processed_count == 2
    # A new phase is written at once.
    recorder.report(Progress("save", 10, 10, 99.0))
    assert store.get_job(job.id).phase == "save"


# --------------------------------------------------------------------------------------------
# ffprobe runs


def ffprobe_children() -> list[int]:
    """Pids of this process's ffprobe children still alive (zombies count: not reaped)."""
    pids = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            stat = stat_file.read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        parent = int(stat[stat.rindex(")") + 2 :].split()[1])
        if name == "ffprobe" and parent == os.getpid():
            pids.append(int(stat_file.parent.name))
    return pids


def test_probe_file_reads_a_real_video(media_cache):
    result = probe_file(str(media_cache.original("mp4_fra")), "ffprobe", 30, threading.Event())
    assert "mp4" in result.container
    assert [s.codec_type for s in result.streams] == ["video", "audio"]


def test_an_ffprobe_that_cannot_start_is_a_reason_in_words(tmp_path):
    # Executable, but neither a program nor a script: exec fails with ENOEXEC.
    broken = tmp_path / "ffprobe"
    broken.write_bytes(b"\0\1\2 not a program")
    broken.chmod(0o755)
    with pytest.raises(ProbeError) as raised:
        probe_file(str(tmp_path / "a.mkv"), str(broken), 5, threading.Event())
    assert str(raised.value) == "cannot run ffprobe: Exec format error"


def test_probe_timeout_kills_ffprobe(tmp_path):
    # ffprobe opening a FIFO waits for a writer that never comes: a real hung probe.
    fifo = tmp_path / "hung.mkv"
    os.mkfifo(fifo)
    with pytest.raises(ProbeError, match=r"timed out after 0\.5 s"):
        probe_file(str(fifo), "ffprobe", 0.5, threading.Event())
    assert ffprobe_children() == []


def test_probe_stops_when_the_scan_is_cancelled(tmp_path):
    fifo = tmp_path / "hung.mkv"
    os.mkfifo(fifo)
    stop = threading.Event()
    stop.set()
    with pytest.raises(ProbeStopped):
        probe_file(str(fifo), "ffprobe", 60, stop)
    assert ffprobe_children() == []


# --------------------------------------------------------------------------------------------
# The pipeline


@pytest.fixture
def store(tmp_path) -> JobStore:
    store = JobStore(tmp_path / "data")
    yield store
    store.close()


class ScanHarness:
    """Runs scans as job rows in one store and keeps what each one produced."""

    def __init__(self, store: JobStore) -> None:
        self.store = store

    def run(self, roots, *, full=False, should_cancel=lambda: False, on_progress=None, **opts):
        roots = [str(root) for root in roots]
        job = self.store.create_job(SCAN, roots[0], params={"paths": roots}, status=RUNNING)
        with JobLog(self.store.logs_dir, job.id) as log:
            summary = run_scan(
                self.store,
                job.id,
                ScanOptions(roots=roots, full=full, **opts),
                log,
                should_cancel,
                on_progress,
            )
        return job.id, summary

    def log_lines(self, job_id: str) -> list[str]:
        return read_log(self.store.logs_dir, job_id, lines=1000).lines


@pytest.fixture
def harness(store) -> ScanHarness:
    return ScanHarness(store)


def test_first_scan_records_files_with_their_probed_streams(harness, store, sample_library):
    job_id, summary = harness.run([sample_library.root])
    assert summary == fresh_scan_summary(5)
    two_tracks = store.get_file(str(sample_library.path("tv/Show/S01E02.mkv")))
    assert two_tracks.scan_status == "ok"
    assert two_tracks.last_job_id == job_id
    assert two_tracks.container == "matroska,webm"
    assert two_tracks.duration == pytest.approx(1.0, abs=0.1)
    assert len(two_tracks.content_hash) == 16
    video, *audio = two_tracks.streams
    assert (video.codec_type, video.codec_name, video.width, video.height) == (
        "video",
        "h264",
        64,
        48,
    )
    assert [(a.codec_type, a.codec_name, a.language, a.channels) for a in audio] == [
        ("audio", "aac", "eng", 1),
        ("audio", "aac", "jpn", 1),
    ]
    mp4 = store.get_file(str(sample_library.path("movies/Film (2020)/Film.mp4")))
    assert "mp4" in mp4.container
    assert [s.language for s in mp4.streams if s.codec_type == "audio"] == ["fra"]
    assert store.get_file(str(sample_library.root / "README.txt")) is None
    log = "\n".join(harness.log_lines(job_id))
    assert "Discover: 5 video files found" in log
    assert "Probe: 5 files probed" in log


def test_incremental_rescan_skips_unchanged_files(harness, store, sample_library):
    first_job, _ = harness.run([sample_library.root])
    second_job, summary = harness.run([sample_library.root])
    assert (summary["found"], summary["skipped"], summary["scanned"]) == (5, 5, 0)
    assert (summary["added"], summary["removed"], summary["errors"]) == (0, 0, 0)
    for path in sample_library.videos.values():
        # Not rewritten: the record still belongs to the first scan.
        assert store.get_file(str(path)).last_job_id == first_job
    assert "5 unchanged files skipped" in "\n".join(harness.log_lines(second_job))


def test_changed_file_is_rehashed_and_reprobed(harness, store, sample_library, media_cache):
    harness.run([sample_library.root])
    changed = sample_library.path("tv/Show/S01E01.mkv")
    before = store.get_file(str(changed))
    media_cache.copy_to("mkv_long", changed)  # same name, new content: a 2-second video
    touched = sample_library.path("tv2/Extra/E01.mkv")
    stat = touched.stat()
    os.utime(touched, (stat.st_atime, stat.st_mtime + 60))  # same bytes, newer mtime

    job_id, summary = harness.run([sample_library.root])
    assert (summary["scanned"], summary["skipped"], summary["added"]) == (2, 3, 0)
    after = store.get_file(str(changed))
    assert after.last_job_id == job_id
    assert after.content_hash != before.content_hash
    assert after.size == changed.stat().st_size
    assert before.duration == pytest.approx(1.0, abs=0.1)
    assert after.duration == pytest.approx(2.0, abs=0.1)
    retouched = store.get_file(str(touched))
    assert retouched.last_job_id == job_id
    assert retouched.mtime == pytest.approx(stat.st_mtime + 60)


def test_full_scan_rescans_unchanged_files(harness, store, sample_library):
    harness.run([sample_library.root])
    job_id, summary = harness.run([sample_library.root], full=True)
    assert (summary["scanned"], summary["skipped"]) == (5, 0)
    assert all(store.get_file(str(p)).last_job_id == job_id for p in sample_library.videos.values())


def test_deleted_file_is_marked_missing_and_a_sibling_prefix_root_survives(
    harness, store, sample_library
):
    first_job, _ = harness.run([sample_library.root])
    gone = sample_library.path("tv/Show/S01E01.mkv")
    gone.unlink()
    job_id, summary = harness.run([sample_library.root / "tv"])
    assert summary["removed"] == 1
    assert summary["found"] == 2
    record = store.get_file(str(gone))
    assert (record.scan_status, record.last_job_id) == ("missing", job_id)
    # /library/tv2 shares the prefix "tv" but is not under /library/tv.
    neighbour = store.get_file(str(sample_library.path("tv2/Extra/E01.mkv")))
    assert (neighbour.scan_status, neighbour.last_job_id) == ("ok", first_job)
    movie = store.get_file(str(sample_library.path("movies/Film (2020)/Film.mp4")))
    assert movie.scan_status == "ok"

    # Back on disk, it is scanned again and counted as added.
    shutil.copyfile(sample_library.path("tv/Show/S01E02.mkv"), gone)
    _, summary = harness.run([sample_library.root / "tv"])
    assert (summary["added"], summary["scanned"], summary["removed"]) == (1, 1, 0)
    assert store.get_file(str(gone)).scan_status == "ok"


def test_unreadable_and_corrupt_files_are_errors_and_the_rest_completes(
    harness, store, sample_library
):
    corrupt = write_corrupt_video(sample_library.root / "tv/Show/S01E03.mkv")
    # Running as root, permission bits do not stop reads; a file that disappears between
    # discovery and hashing is a real read failure the scan must survive (a NAS share being
    # reorganised does exactly this). tests/integration/test_cli_scan.py covers a file that
    # cannot be read for lack of permission.
    vanishing = sample_library.path("tv/Other Show/E01.mp4")
    content, before = vanishing.read_bytes(), vanishing.stat()

    def remove_before_hashing(progress: Progress) -> None:
        if progress.phase == "hash" and vanishing.exists():
            vanishing.unlink()

    job_id, summary = harness.run([sample_library.root], on_progress=remove_before_hashing)
    assert (summary["found"], summary["scanned"], summary["errors"]) == (6, 6, 2)
    unreadable = store.get_file(str(vanishing))
    assert unreadable.scan_status == "error"
    assert "No such file" in unreadable.scan_error
    assert unreadable.streams == []
    broken = store.get_file(str(corrupt))
    assert broken.scan_status == "error"
    assert "Invalid data found" in broken.scan_error
    assert (broken.container, broken.streams) == (None, [])
    errors, total = store.file_errors(job_id, limit=10, offset=0)
    assert total == 2
    assert {e.path for e in errors} == {str(vanishing), str(corrupt)}
    for relative in ("tv/Show/S01E01.mkv", "tv2/Extra/E01.mkv", "movies/Film (2020)/Film.mp4"):
        assert store.get_file(str(sample_library.path(relative))).scan_status == "ok"
    log = "\n".join(harness.log_lines(job_id))
    assert f"{corrupt}: probe failed: Invalid data found when processing input" in log
    assert f"{vanishing}: cannot read file" in log

    # The vanished file comes back exactly as it was (same size and mtime). A read failure is
    # tried again, since its cause may be gone; the unchanged corrupt file is not re-probed
    # (ffprobe would say the same) and keeps its error.
    vanishing.write_bytes(content)
    os.utime(vanishing, ns=(before.st_atime_ns, before.st_mtime_ns))
    second_job, summary = harness.run([sample_library.root])
    assert (summary["scanned"], summary["skipped"], summary["errors"]) == (1, 5, 0)
    assert store.get_file(str(vanishing)).scan_status == "ok"
    broken_again = store.get_file(str(corrupt))
    assert (broken_again.scan_status, broken_again.last_job_id) == ("error", job_id)
    assert "Invalid data found" in broken_again.scan_error
    assert "1 of them keeps its earlier probe error" in "\n".join(harness.log_lines(second_job))


def test_a_probe_failure_is_kept_until_the_file_changes_or_a_full_scan(
    harness, store, sample_library, media_cache
):
    corrupt = write_corrupt_video(sample_library.root / "tv/Show/S01E03.mkv")
    first_job, summary = harness.run([sample_library.root])
    assert summary["errors"] == 1
    _, summary = harness.run([sample_library.root])
    assert (summary["scanned"], summary["skipped"], summary["errors"]) == (0, 6, 0)
    assert store.get_file(str(corrupt)).last_job_id == first_job

    full_job, summary = harness.run([sample_library.root], full=True)
    assert (summary["scanned"], summary["errors"]) == (6, 1)
    assert store.get_file(str(corrupt)).last_job_id == full_job

    # Replaced by a real video: the new size and mtime make it changed, so it is probed.
    corrupt.unlink()
    media_cache.copy_to("mkv_eng", corrupt)
    _, summary = harness.run([sample_library.root])
    assert (summary["scanned"], summary["errors"]) == (1, 0)
    fixed = store.get_file(str(corrupt))
    assert (fixed.scan_status, fixed.scan_error) == ("ok", None) and fixed.streams


def test_cancel_mid_scan_keeps_progress_and_finished_files(harness, store, tmp_path, media_cache):
    library = build_many(tmp_path / "many", media_cache, 8)
    cancel = threading.Event()

    def cancel_after_three(progress: Progress) -> None:
        if progress.phase == "probe" and progress.phase_done >= 3:
            cancel.set()

    with pytest.raises(ScanCancelled) as raised:
        harness.run(
            [library.root],
            should_cancel=cancel.is_set,
            on_progress=cancel_after_three,
            probe_concurrency=1,
        )
    (job,) = store.list_jobs(JobQuery())[0]
    assert job.phase == "probe"
    assert job.total_count == 8
    assert 3 <= job.processed_count < 8
    assert 0 < job.progress_percent < 100
    saved = [p for p in library.videos.values() if store.get_file(str(p)) is not None]
    assert len(saved) == job.processed_count == raised.value.summary["scanned"]
    # Every file was new, but only the scanned ones were added: never "3 scanned (8 new)".
    assert raised.value.summary["added"] == raised.value.summary["scanned"]
    assert "Scan cancelled" in "\n".join(harness.log_lines(job.id))


def test_cancel_during_discovery_stops_before_hashing(harness, store, sample_library):
    with pytest.raises(ScanCancelled) as raised:
        harness.run([sample_library.root], should_cancel=lambda: True)
    assert raised.value.summary["scanned"] == 0
    assert all(store.get_file(str(p)) is None for p in sample_library.videos.values())


def test_progress_is_visible_to_another_connection_while_the_scan_runs(
    harness, store, sample_library
):
    reached = threading.Event()
    release = threading.Event()

    def hold_during_probe(progress: Progress) -> None:
        if progress.phase == "probe" and progress.phase_done == 1 and not reached.is_set():
            reached.set()
            assert release.wait(timeout=30)

    outcome: dict = {}

    def scan_in_background() -> None:
        outcome["result"] = harness.run(
            [sample_library.root], on_progress=hold_during_probe, probe_concurrency=1
        )

    worker = threading.Thread(target=scan_in_background)
    worker.start()
    try:
        assert reached.wait(timeout=30)
        observer = JobStore(store.data_dir)  # a second connection, as the daemon's API has

        def running_probe_seen():
            (job,), _ = observer.list_jobs(JobQuery())
            return job if job.phase == "probe" else None

        job = wait_until(running_probe_seen, timeout=5)
        assert job.status == "running"
        assert job.total_count == 5
        assert 0 < job.progress_percent < 100
        observer.close()
        # The log is readable while the job runs, up to the phase it is in.
        lines = read_log(store.logs_dir, job.id).lines
        assert any("Hash: 5 files hashed" in line for line in lines)
    finally:
        release.set()
        worker.join(timeout=30)
    _, summary = outcome["result"]
    assert summary["scanned"] == 5


def test_without_a_prober_files_are_recorded_unprobed_and_the_log_says_so_once(
    harness, store, sample_library, tmp_path, monkeypatch
):
    # Neither prober: `av` cannot be imported here (a None entry in sys.modules makes both
    # `import av` and the scan's find_spec fail, as a missing package does), no ffprobe on PATH.
    empty_bin = tmp_path / "bin-without-ffprobe"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))
    monkeypatch.setitem(sys.modules, "av", None)
    job_id, summary = harness.run([sample_library.root])
    assert summary["probe_skipped"] is True
    assert (summary["found"], summary["scanned"], summary["errors"]) == (5, 5, 0)
    for path in sample_library.videos.values():
        record = store.get_file(str(path))
        assert record.scan_status == "ok"
        assert len(record.content_hash) == 16
        # Nothing guessed from the file name or extension.
        assert (record.container, record.duration, record.streams) == (None, None, [])
    log = harness.log_lines(job_id)
    assert sum(PROBER_MISSING_MESSAGE in line for line in log) == 1
    # A rescan with nothing to probe skipped nothing, and says nothing about it.
    job_id, summary = harness.run([sample_library.root])
    assert (summary["skipped"], summary["probe_skipped"]) == (5, False)
    assert not any(PROBER_MISSING_MESSAGE in line for line in harness.log_lines(job_id))
    # With the probers back, the next incremental scan probes the files it never could.
    monkeypatch.undo()
    job_id, summary = harness.run([sample_library.root])
    assert (summary["skipped"], summary["scanned"], summary["probe_skipped"]) == (0, 5, False)
    for path in sample_library.videos.values():
        record = store.get_file(str(path))
        assert record.container and record.streams


def test_broken_symlink_is_a_job_error_and_the_scan_completes(harness, store, sample_library):
    dangling = sample_library.root / "tv/Show/S01E09.mkv"
    dangling.symlink_to(sample_library.root / "nowhere.mkv")
    job_id, summary = harness.run([sample_library.root])
    assert (summary["found"], summary["scanned"], summary["errors"]) == (5, 5, 1)
    errors, total = store.file_errors(job_id, limit=10, offset=0)
    assert total == 1
    assert errors[0].path == str(dangling)
    assert errors[0].message.startswith("broken symbolic link: ")
    log = "\n".join(harness.log_lines(job_id))
    assert f"ERROR {dangling}: broken symbolic link: " in log
    # Counted as what it is: a dangling link is not an unreadable directory.
    assert "5 video files found" in log and ", 1 broken symbolic link" in log
    assert "unreadable director" not in log


def test_walk_problems_are_counted_by_kind():
    errors = [
        ("/tv/a", "cannot read directory: Permission denied (os error 13)"),
        ("/tv/b", "cannot read directory: Input/output error (os error 5)"),
        ("/tv/c.mkv", "broken symbolic link: No such file or directory (os error 2)"),
        ("/tv/d/up", "directory loop: leads back to /tv/d, not followed"),
        ("/tv/e.mkv", "cannot stat: No such file or directory (os error 2)"),
        ("/tv/f", "something new from a later core"),
    ]
    assert describe_walk_errors(errors) == (
        "2 unreadable directories, 1 broken symbolic link, 1 directory loop, "
        "1 file that could not be stat'ed, 1 other problem"
    )
    assert describe_walk_errors([]) == ""


MISSING = object()

# Any bytes a Linux file name may hold: everything but '/' and NUL.
name_bytes = st.binary(min_size=1, max_size=48).map(
    lambda raw: raw.replace(b"/", b"_").replace(b"\0", b"_")
)


@contextmanager
def probers_hidden() -> Iterator[None]:
    """No `av` to import and PATH without ffprobe (the scan then records files unprobed),
    restored afterwards."""
    saved_path, saved_av = os.environ.get("PATH"), sys.modules.get("av", MISSING)
    os.environ["PATH"] = ""
    sys.modules["av"] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        if saved_path is None:
            del os.environ["PATH"]
        else:
            os.environ["PATH"] = saved_path
        if saved_av is MISSING:
            del sys.modules["av"]
        else:
            sys.modules["av"] = saved_av


@settings(max_examples=40, deadline=None)
@given(folder=name_bytes, names=st.lists(name_bytes, min_size=1, max_size=4, unique=True))
def test_any_byte_name_is_found_stored_skipped_when_unchanged_and_marked_missing(
    folder: bytes, names: list[bytes]
) -> None:
    with tempfile.TemporaryDirectory() as tmp, probers_hidden():
        root = os.fsencode(tmp) + b"/lib"
        os.makedirs(root + b"/" + folder)
        on_disk = []
        for name in names:
            for directory in (root, root + b"/" + folder):
                path = directory + b"/" + name + b".mkv"
                with open(path, "wb") as handle:
                    handle.write(b"not a video, " + path)
                on_disk.append(path)
        # Hidden names (and everything in a hidden folder) are skipped by design.
        expected = {
            os.fsdecode(path)
            for path in on_disk
            if not os.path.basename(path).startswith(b".")
            and not (folder.startswith(b".") and os.path.dirname(path) != root)
        }
        with JobStore(Path(tmp) / "data") as store:
            harness = ScanHarness(store)
            job_id, summary = harness.run([os.fsdecode(root)])
            assert (summary["found"], summary["errors"]) == (len(expected), 0)
            assert set(store.known_files([os.fsdecode(root)])) == expected
            for path in expected:
                record = store.get_file(path)
                assert record.scan_status == "ok" and record.last_job_id == job_id
                assert os.path.getsize(os.fsencode(record.path)) == record.size

            _, summary = harness.run([os.fsdecode(root)])
            assert (summary["skipped"], summary["scanned"]) == (len(expected), 0)

            if expected:
                gone = sorted(expected)[0]
                os.unlink(os.fsencode(gone))
                _, summary = harness.run([os.fsdecode(root)])
                assert (summary["removed"], summary["skipped"]) == (1, len(expected) - 1)
                assert store.get_file(gone).scan_status == "missing"


def test_overlapping_roots_count_each_file_once(harness, sample_library):
    _, summary = harness.run([sample_library.root / "tv", sample_library.root / "tv/Show"])
    assert summary["found"] == 3


def test_missing_root_raises_with_the_path(harness, tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        harness.run([tmp_path / "nowhere"])


def test_sample_library_layout_is_what_the_tests_expect(tmp_path, media_cache):
    library = build_library(tmp_path / "lib", media_cache)
    assert len(library.videos) == 5
    assert all(path.stat().st_size > 1000 for path in library.videos.values())


@given(st.lists(st.sampled_from(["/a", "/a/b", "/b", "/c d", "/é"]), max_size=12), st.booleans())
def test_discovered_files_are_listed_once_each_sorted_or_not(paths: list[str], sort: bool):
    if sort:
        paths = sorted(paths)
    files = [(path, len(path), float(n)) for n, path in enumerate(paths)]
    unique = _unique_discovered(list(files))
    first_seen = {}
    for path, size, mtime in files:
        first_seen.setdefault(path, (size, mtime))
    assert sorted(item.path for item in unique) == sorted(first_seen)
    assert all((item.size, item.mtime) == first_seen[item.path] for item in unique)
    if sort:
        assert [item.path for item in unique] == sorted(first_seen)


def test_without_av_the_scan_probes_with_ffprobe_and_says_why(
    harness, store, sample_library, monkeypatch
):
    monkeypatch.setitem(sys.modules, "av", None)  # `av` cannot be imported in this process
    job_id, summary = harness.run([sample_library.root])
    assert (summary["scanned"], summary["errors"], summary["probe_skipped"]) == (5, 0, False)
    record = store.get_file(str(sample_library.path("tv/Show/S01E02.mkv")))
    assert [s.language for s in record.streams] == [None, "eng", "jpn"]
    log = "\n".join(harness.log_lines(job_id))
    assert "WARN  PyAV cannot probe: the av package cannot be imported" in log
    assert "5 files probed with ffprobe in" in log
