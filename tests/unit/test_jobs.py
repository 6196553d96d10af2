"""The job vocabulary: timestamps, durations, the API dict shapes and summary sentences."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

from vpo.jobs import (
    COMPLETED,
    RUNNING,
    STATUSES,
    TERMINAL,
    Job,
    format_timestamp,
    parse_timestamp,
    summary_sentence,
)

NOW = datetime(2026, 11, 30, 6, 0, 10, 900_000, tzinfo=UTC)

LIST_FIELDS = {
    "id",
    "id_short",
    "job_type",
    "status",
    "priority",
    "file_path",
    "file_path_is_utf8",
    "created_at",
    "started_at",
    "completed_at",
    "progress_percent",
    "phase",
    "processed_count",
    "total_count",
    "duration_seconds",
    "error_message",
    "attempts",
}


def make_job(**changes) -> Job:
    job = Job(
        id="3f2b9c1e-1234-4000-8000-000000000001",
        job_type="scan",
        status=RUNNING,
        priority=100,
        file_path="/tv",
        created_at="2026-11-30T05:59:59.000Z",
        started_at="2026-11-30T06:00:00.950Z",
        completed_at=None,
        progress_percent=None,
        phase="discover",
        processed_count=0,
        total_count=None,
        error_message=None,
        summary_raw=None,
        attempts=1,
    )
    return replace(job, **changes)


def test_vocabulary() -> None:
    assert STATUSES == ("queued", "running", "completed", "failed", "cancelled")
    assert {"completed", "failed", "cancelled"} == TERMINAL


def test_timestamps_are_fixed_width_utc_with_milliseconds() -> None:
    assert format_timestamp(NOW) == "2026-11-30T06:00:10.900Z"
    east = datetime(2026, 11, 30, 8, 0, 0, 1_999, tzinfo=timezone(timedelta(hours=2)))
    assert format_timestamp(east) == "2026-11-30T06:00:00.001Z"
    assert format_timestamp(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05.000Z"
    assert parse_timestamp("2026-11-30T06:00:10.900Z") == NOW
    assert parse_timestamp("2026-11-30T06:00:10.900") == NOW


def test_duration_is_floored_and_runs_to_now_while_running() -> None:
    job = make_job()
    # started 06:00:00.950, now 06:00:10.900: 9.95 s -> 9
    assert job.duration_seconds(NOW) == 9
    assert job.duration_seconds(NOW + timedelta(milliseconds=49)) == 9
    assert job.duration_seconds(NOW + timedelta(milliseconds=50)) == 10
    assert job.duration_seconds(NOW.replace(tzinfo=None)) == 9  # naive "now" is UTC
    # Without `now`, the current time: the job started in the past, so some seconds ago.
    assert job.duration_seconds() >= 9
    assert make_job().to_list_dict()["duration_seconds"] >= 9
    done = make_job(status=COMPLETED, completed_at="2026-11-30T06:01:00.949Z")
    assert done.duration_seconds(NOW + timedelta(days=1)) == 59
    assert make_job(status="queued", started_at=None).duration_seconds(NOW) is None
    # Clock skew never yields a negative duration.
    assert make_job(started_at="2026-11-30T07:00:00.000Z").duration_seconds(NOW) == 0


def test_list_dict_has_exactly_the_list_fields() -> None:
    item = make_job(progress_percent=12.5, total_count=80, processed_count=10).to_list_dict(NOW)
    assert set(item) == LIST_FIELDS
    assert item["id_short"] == "3f2b9c1e"
    assert item["duration_seconds"] == 9
    assert (item["progress_percent"], item["processed_count"], item["total_count"]) == (
        12.5,
        10,
        80,
    )


def test_detail_dict_adds_summary_and_logs_flag() -> None:
    summary = {"found": 10, "scanned": 4, "skipped": 6, "added": 1, "removed": 0, "errors": 1}
    job = make_job(status=COMPLETED, completed_at="2026-11-30T06:00:05.000Z", summary_raw=summary)
    detail = job.to_detail_dict(NOW, has_logs=True, errors_count=2)
    assert set(detail) == LIST_FIELDS | {
        "summary", "summary_raw", "has_logs", "errors_count", "retry_of"
    }  # fmt: skip
    assert detail["has_logs"] is True
    assert detail["errors_count"] == 2 and detail["retry_of"] is None
    assert detail["summary_raw"] == summary and detail["summary_raw"] is not summary
    assert (
        detail["summary"] == "Found 10 files: 4 scanned (1 new), 6 unchanged, 0 missing, 1 error."
    )
    queued = make_job(status="queued", started_at=None, retry_of="a" * 36)
    queued = queued.to_detail_dict(NOW, has_logs=False, errors_count=0)
    assert queued["retry_of"] == "a" * 36
    assert queued["summary"] is None and queued["summary_raw"] is None
    assert queued["duration_seconds"] is None


def test_unknown_statuses_and_types_pass_through() -> None:
    job = make_job(status="paused", job_type="transcode")
    item = job.to_list_dict(NOW)
    assert (item["status"], item["job_type"]) == ("paused", "transcode")
    assert job.is_terminal is False


def test_summary_sentences() -> None:
    assert summary_sentence(None) is None
    assert summary_sentence({}) is None
    assert summary_sentence({"found": 1, "scanned": 1, "added": 1, "errors": 2}) == (
        "Found 1 file: 1 scanned (1 new), 0 unchanged, 0 missing, 2 errors."
    )
    assert summary_sentence({"found": 3, "scanned": 3, "probe_skipped": True}).endswith(
        "Probing was skipped (no prober available)."
    )
    # A summary of a job type this version does not know is still readable.
    assert summary_sentence({"moved": 4, "target": "/b"}) == "moved: 4, target: /b."
    # Garbage values are shown as 0 rather than crashing a client.
    assert summary_sentence({"found": "many", "errors": None}).startswith("Found 0 files")
