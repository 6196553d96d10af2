"""run_job always ends a job: completed, failed with a message, cancelled, or requeued on shutdown.

Real store, real scan on real videos; cancels and interrupts are triggered from the progress
callback at a known point of the scan, so nothing depends on timing.
"""

from __future__ import annotations

import os
import threading
import time

import pytest

from tests.support.media import build_many
from vpo.joblog import read_log
from vpo.jobs import CANCELLED, COMPLETED, FAILED, QUEUED, RUNNING, SCAN, SUMMARY_KEYS
from vpo.runner import (
    CANCEL_POLL_INTERVAL,
    SHUTDOWN_NOTE,
    CancelCheck,
    describe_failure,
    run_job,
)
from vpo.scan import Progress
from vpo.store import JobStore


@pytest.fixture
def store(tmp_path):
    store = JobStore(tmp_path / "data")
    yield store
    store.close()


def running_scan(store: JobStore, root, **params):
    return store.create_job(
        SCAN, str(root), params={"paths": [str(root)], **params}, status=RUNNING
    )


def log_text(store: JobStore, job_id: str) -> str:
    return "\n".join(read_log(store.logs_dir, job_id, lines=1000).lines)


def test_completed_job_has_summary_full_progress_and_a_log(store, sample_library):
    job = running_scan(store, sample_library.root)
    seen: list[Progress] = []
    final = run_job(store, job, on_progress=seen.append)
    assert final.status == COMPLETED
    assert final.progress_percent == 100
    assert final.completed_at is not None
    assert set(final.summary_raw) == set(SUMMARY_KEYS)
    assert final.summary_raw["found"] == 5
    assert seen[0].phase == "discover"
    assert {"hash", "probe", "save"} <= {p.phase for p in seen}
    # While running the percentage never reached 100.
    assert all(p.percent is None or p.percent < 100 for p in seen)
    text = log_text(store, job.id)
    assert f"Job {job.id} (scan) started" in text
    assert "Job completed: found 5" in text


def test_unknown_job_type_fails_with_a_message(store, tmp_path):
    job = store.create_job("transcode", str(tmp_path), status=RUNNING)
    final = run_job(store, job)
    assert final.status == FAILED
    assert "Unknown job type 'transcode'" in final.error_message
    assert "Unknown job type" in log_text(store, job.id)


def test_missing_root_fails_with_a_human_sentence_naming_the_path(store, tmp_path):
    job = running_scan(store, tmp_path / "gone")
    final = run_job(store, job)
    assert final.status == FAILED
    assert final.error_message == f"folder no longer exists: {tmp_path / 'gone'}"
    text = log_text(store, job.id)
    assert f"Job failed: folder no longer exists: {tmp_path / 'gone'}" in text
    assert "Errno" not in text and "Traceback" not in text


def test_a_missing_root_that_is_not_utf8_is_named_with_its_bytes_escaped(store, tmp_path):
    gone = os.fsdecode(os.fsencode(tmp_path) + b"/gone\xe9")
    final = run_job(store, running_scan(store, gone))
    assert final.status == FAILED
    assert final.error_message == f"folder no longer exists: {tmp_path}/gone\\xe9"
    assert f"folder no longer exists: {tmp_path}/gone\\xe9" in log_text(store, final.id)


def test_an_exception_in_the_scan_fails_the_job_and_its_traceback_goes_to_the_daemon_log(
    store, sample_library, caplog
):
    def broken_display(progress: Progress) -> None:
        if progress.phase == "probe":
            raise RuntimeError("display went away")

    final = run_job(store, running_scan(store, sample_library.root), on_progress=broken_display)
    assert final.status == FAILED
    assert final.error_message == "RuntimeError: display went away"
    text = log_text(store, final.id)
    assert "Job failed: RuntimeError: display went away" in text
    assert "Traceback" not in text and "broken_display" not in text
    # The details are kept, where an operator looks for them: the daemon's own log.
    (record,) = [r for r in caplog.records if r.name == "vpo.runner"]
    assert record.exc_info is not None and "display went away" in caplog.text


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (
            FileNotFoundError(2, "scan root does not exist", "/srv/x"),
            "folder no longer exists: /srv/x",
        ),
        (FileNotFoundError(2, "No such file", "/srv/x/a.mkv"), "no longer exists: /srv/x/a.mkv"),
        (NotADirectoryError(20, "scan root is not a directory", "/srv/f"), "not a folder: /srv/f"),
        (PermissionError(13, "Permission denied", "/srv/x"), "permission denied: /srv/x"),
        (
            OSError(28, "No space left on device"),
            "the disk is full",
        ),
        (
            OSError(5, "Input/output error"),
            "input/output error (a failing disk or a lost network mount?)",
        ),
        (OSError(111, "Connection refused"), "Connection refused"),
    ],
)
def test_failures_are_described_in_words_without_errno_numbers(exc, expected):
    message = describe_failure(exc, roots=["/srv/x", "/srv/f"])
    assert message == expected
    assert "Errno" not in message and "[" not in message


def test_cancel_requested_in_the_store_ends_the_job_cancelled_with_progress_kept(
    store, tmp_path, media_cache
):
    library = build_many(tmp_path / "lib", media_cache, 40)
    job = running_scan(store, library.root)
    other_process = JobStore(store.data_dir)  # a cancel arrives the way `vpo jobs cancel` sends it

    def cancel_after_two(progress: Progress) -> None:
        if progress.phase == "probe" and progress.phase_done >= 2 and not requested:
            requested.append(True)
            other_process.request_cancel(job.id)
            # The runner reads the store for a cancel at most once per CANCEL_POLL_INTERVAL (a
            # time-based throttle by design); holding the scan that long makes its next file
            # boundary read the request, however fast the files are probed.
            time.sleep(CANCEL_POLL_INTERVAL)

    requested: list[bool] = []

    final = run_job(store, job, probe_concurrency=1, on_progress=cancel_after_two)
    other_process.close()
    assert final.status == CANCELLED
    assert final.phase == "probe"
    assert final.total_count == 40
    assert 2 <= final.processed_count < 40
    assert 0 < final.progress_percent < 100
    assert final.summary_raw["scanned"] == final.processed_count
    assert "Job cancelled" in log_text(store, job.id)


def test_cancel_event_ends_the_job_cancelled(store, sample_library):
    cancel = threading.Event()

    def cancel_in_hash(progress: Progress) -> None:
        if progress.phase == "hash":
            cancel.set()

    final = run_job(
        store,
        running_scan(store, sample_library.root),
        cancel_event=cancel,
        on_progress=cancel_in_hash,
    )
    assert final.status == CANCELLED
    assert final.phase == "hash"


def test_keyboard_interrupt_cancels_the_job_then_propagates(store, sample_library):
    def ctrl_c(progress: Progress) -> None:
        if progress.phase == "probe" and progress.phase_done == 1:
            raise KeyboardInterrupt

    job = running_scan(store, sample_library.root)
    with pytest.raises(KeyboardInterrupt):
        run_job(store, job, probe_concurrency=1, on_progress=ctrl_c)
    final = store.get_job(job.id)
    assert final.status == CANCELLED
    assert final.error_message == "Interrupted (Ctrl+C)."
    assert final.processed_count >= 1


def test_shutdown_requeues_the_job_instead_of_cancelling(store, sample_library):
    shutdown = threading.Event()

    def shut_down_in_probe(progress: Progress) -> None:
        if progress.phase == "probe":
            shutdown.set()

    job = running_scan(store, sample_library.root)
    final = run_job(store, job, shutdown_event=shutdown, on_progress=shut_down_in_probe)
    assert final.status == QUEUED
    # Why it was requeued is in its log; error_message is for jobs that failed.
    assert final.error_message is None
    assert final.attempts == 1
    assert SHUTDOWN_NOTE in log_text(store, job.id)
    # The next attempt starts over and completes.
    claimed = store.claim_next_job("test-owner")
    assert claimed.id == job.id
    assert run_job(store, claimed).status == COMPLETED


def test_cancel_wins_over_shutdown(store, sample_library):
    shutdown = threading.Event()
    job = running_scan(store, sample_library.root)

    def both(progress: Progress) -> None:
        if progress.phase == "probe":
            store.request_cancel(job.id)
            shutdown.set()

    final = run_job(store, job, shutdown_event=shutdown, on_progress=both)
    assert final.status == CANCELLED


def test_cancel_check_reads_the_store_at_most_once_per_interval(store, tmp_path):
    job = store.create_job(SCAN, str(tmp_path), status=RUNNING)
    event = threading.Event()
    check = CancelCheck(store, job.id, (event, None), interval=3600)
    assert check() is False
    store.request_cancel(job.id)
    # Within the interval the flag is not read again...
    assert check() is False
    # ...but an in-process event is seen at once.
    event.set()
    assert check() is True
    fresh = CancelCheck(store, job.id, (), interval=0)
    assert fresh() is True
    assert fresh.requested_in_store()
