"""JobStore against real SQLite files in temp dirs: schema, job lifecycle, concurrency, files.

Concurrency tests use real threads and real processes on one database file; nothing is mocked.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.daemon import wait_until
from vpo import joblog
from vpo.jobs import CANCELLED, COMPLETED, FAILED, QUEUED, RUNNING, Job, parse_timestamp, utc_now
from vpo.owner import process_owner
from vpo.store import (
    MIGRATIONS,
    SCHEMA_VERSION,
    JobAlreadyTerminal,
    JobNotFinished,
    JobNotFound,
    JobQuery,
    JobStore,
    ScannedFile,
    ScannedStream,
    SchemaTooNew,
    StoreError,
)

TIMESTAMP_PATTERN = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"
OWNER = "testhost:1:1"


@pytest.fixture
def store(tmp_path: Path):
    with JobStore(tmp_path / "data") as opened:
        yield opened


def raw_connection(store: JobStore) -> sqlite3.Connection:
    """A plain sqlite3 connection to inspect rows behind the store's back."""
    conn = sqlite3.connect(store.db_path, isolation_level=None)
    conn.row_factory = sqlite3.Row
    return conn


def row_count(store: JobStore, table: str) -> int:
    with raw_connection(store) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


# --- schema and migrations -------------------------------------------------------------------


def test_new_database_is_migrated_to_the_current_schema(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh" / "nested"
    with JobStore(data_dir) as store:
        assert store.db_path == data_dir / "vpo.db"
        assert store.logs_dir.is_dir()
        assert store.schema_version() == SCHEMA_VERSION
        with raw_connection(store) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert {"jobs", "files", "streams", "file_errors", "meta"} <= tables
        assert {"jobs_by_status", "jobs_by_created", "jobs_by_type", "jobs_queue"} <= tables
        # Foreign keys are enforced on the store's own connections.
        assert store._writer.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_an_older_database_is_migrated_forward_keeping_its_rows(tmp_path: Path) -> None:
    # Build a version-1 database by hand, as an older VPO left it.
    with sqlite3.connect(tmp_path / "vpo.db", isolation_level=None) as conn:
        for statement in MIGRATIONS[0]:
            conn.execute(statement)
        conn.execute(
            "INSERT INTO jobs (id, job_type, status, file_path, created_at, updated_at) "
            "VALUES ('old-job', 'scan', 'completed', '/tv', '2026-01-01T00:00:00.000Z', "
            "'2026-01-01T00:00:00.000Z')"
        )
        conn.execute("PRAGMA user_version = 1")
    with JobStore(tmp_path) as store:
        assert store.schema_version() == SCHEMA_VERSION > 1
        assert store.get_job("old-job").status == COMPLETED
        with raw_connection(store) as conn:
            plan = " ".join(
                row[3]
                for row in conn.execute(
                    "EXPLAIN QUERY PLAN SELECT id FROM jobs WHERE status = 'failed' "
                    "ORDER BY created_at DESC, id DESC"
                )
            )
        assert "jobs_by_status" in plan and "TEMP B-TREE" not in plan


def test_errors_stored_before_schema_4_are_classified_by_their_message(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "vpo.db", isolation_level=None) as conn:
        for migration in MIGRATIONS[:3]:
            for statement in migration:
                conn.execute(statement)
        for path, error in (
            ("/tv/corrupt.mkv", "ffprobe failed: Invalid data found when processing input"),
            ("/tv/locked.mkv", "cannot read file: Permission denied (os error 13)"),
            ("/tv/slow.mkv", "ffprobe timed out after 60 s"),
        ):
            conn.execute(
                "INSERT INTO files (path, size, mtime, scan_status, scan_error, updated_at) "
                "VALUES (?, 1, 1.0, 'error', ?, '2026-01-01T00:00:00.000Z')",
                (path, error),
            )
        conn.execute("PRAGMA user_version = 3")
    with JobStore(tmp_path) as store:
        kinds = {path: known.error_kind for path, known in store.known_files(["/tv"]).items()}
    assert kinds == {"/tv/corrupt.mkv": "probe", "/tv/locked.mkv": "read", "/tv/slow.mkv": None}


def test_reopening_keeps_data_and_does_not_migrate_again(tmp_path: Path) -> None:
    with JobStore(tmp_path) as store:
        job = store.create_job("scan", "/tv")
        counter = store.change_counter()
    for _ in range(2):
        with JobStore(tmp_path) as store:
            assert store.schema_version() == SCHEMA_VERSION
            assert store.get_job(job.id) == job
            assert store.change_counter() == counter


def test_stores_opened_at_once_on_a_fresh_dir_migrate_once(tmp_path: Path) -> None:
    barrier = threading.Barrier(4)
    opened: list[JobStore] = []
    errors: list[BaseException] = []

    def open_store() -> None:
        barrier.wait()
        try:
            opened.append(JobStore(tmp_path))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == [] and len(opened) == 4
    job = opened[0].create_job("scan", "/tv")
    assert all(s.get_job(job.id) == job for s in opened)
    assert {s.schema_version() for s in opened} == {SCHEMA_VERSION}
    for s in opened:
        s.close()


def test_an_unusable_database_is_a_clear_store_error(tmp_path: Path) -> None:
    (tmp_path / "vpo.db").write_bytes(b"this is not a database, just some text" * 100)
    with pytest.raises(StoreError, match=r"cannot open the job database .*vpo\.db"):
        JobStore(tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("a file where the data dir should be")
    with pytest.raises(StoreError, match="cannot create the data directory"):
        JobStore(blocker / "data")


def test_a_database_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    JobStore(tmp_path).close()
    with sqlite3.connect(tmp_path / "vpo.db") as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(SchemaTooNew, match="newer than this VPO"):
        JobStore(tmp_path)


# --- creating and reading jobs ---------------------------------------------------------------


def test_create_job_fills_every_field(store: JobStore) -> None:
    job = store.create_job("scan", "/media/tv", params={"paths": ["/media/tv"], "full": True})
    assert len(job.id) == 36 and job.id_short == job.id[:8]
    assert (job.job_type, job.status, job.priority, job.file_path) == (
        "scan",
        QUEUED,
        100,
        "/media/tv",
    )
    assert job.created_at == job.updated_at
    assert re.match(TIMESTAMP_PATTERN, job.created_at)
    assert job.started_at is None and job.completed_at is None
    assert job.progress_percent is None and job.phase is None
    assert (job.processed_count, job.total_count, job.attempts) == (0, None, 0)
    assert job.params == {"paths": ["/media/tv"], "full": True}
    assert job.version == 1 and job.cancel_requested is False
    assert store.get_job(job.id) == job


def test_foreground_job_starts_running_with_this_process_as_owner(store: JobStore) -> None:
    job = store.create_job("scan", "/tv", status=RUNNING)
    assert job.status == RUNNING
    assert job.owner == process_owner()
    assert job.started_at is not None and job.attempts == 1


def test_creation_times_strictly_increase_so_order_is_stable(store: JobStore) -> None:
    jobs = [store.create_job("scan", f"/p{i}") for i in range(50)]
    stamps = [job.created_at for job in jobs]
    assert stamps == sorted(stamps)
    assert len(set(stamps)) == len(stamps)


def test_bad_create_arguments_raise_and_write_nothing(store: JobStore) -> None:
    counter = store.change_counter()
    for kwargs in (
        {"job_type": "", "file_path": "/tv"},
        {"job_type": "scan", "file_path": ""},
        {"job_type": "scan", "file_path": "/tv", "status": COMPLETED},
        {"job_type": "scan", "file_path": "/tv", "priority": "high"},
    ):
        with pytest.raises(ValueError):
            store.create_job(**kwargs)
    assert row_count(store, "jobs") == 0
    assert store.change_counter() == counter


def test_unknown_job_types_and_ids(store: JobStore) -> None:
    job = store.create_job("transcode", "/tv/a.mkv")
    assert store.get_job(job.id).job_type == "transcode"
    assert store.get_job("00000000-0000-4000-8000-000000000000") is None


def test_jobs_by_prefix_resolves_short_ids(store: JobStore) -> None:
    jobs = [store.create_job("scan", f"/p{i}") for i in range(20)]
    target = jobs[7]
    assert [j.id for j in store.jobs_by_prefix(target.id)] == [target.id]
    assert target.id in [j.id for j in store.jobs_by_prefix(target.id[:8])]
    assert target.id in [j.id for j in store.jobs_by_prefix(target.id[:8].upper())]
    assert len(store.jobs_by_prefix("", limit=2)) == 2  # ambiguous
    assert store.jobs_by_prefix("%") == []  # LIKE wildcards are literal
    assert store.jobs_by_prefix("zz") == []


# --- lifecycle -------------------------------------------------------------------------------


def test_claim_takes_priority_then_creation_order(store: JobStore) -> None:
    late_low = store.create_job("scan", "/a", priority=100)
    urgent = store.create_job("scan", "/b", priority=10)
    later_low = store.create_job("scan", "/c", priority=100)
    order = [store.claim_next_job(OWNER) for _ in range(3)]
    assert [job.id for job in order] == [urgent.id, late_low.id, later_low.id]
    assert all(job.status == RUNNING and job.owner == OWNER for job in order)
    assert all(job.attempts == 1 and job.started_at for job in order)
    assert store.claim_next_job(OWNER) is None


def test_every_job_write_bumps_version_and_change_counter(store: JobStore) -> None:
    counters = [store.change_counter()]
    versions = []

    def step(job: Job) -> None:
        versions.append(store.get_job(job.id).version)
        counters.append(store.change_counter())

    job = store.create_job("scan", "/tv")
    step(job)
    job = store.claim_next_job(OWNER)
    step(job)
    store.update_progress(job.id, phase="discover", processed=5)
    step(job)
    store.requeue_job(job.id)
    step(job)
    store.claim_next_job(OWNER)
    step(job)
    store.request_cancel(job.id)
    step(job)
    store.finish_job(job.id, COMPLETED, summary_raw={"found": 1})
    step(job)
    assert versions == sorted(versions) and len(set(versions)) == len(versions)
    assert counters == sorted(counters) and len(set(counters)) == len(counters)


def test_progress_is_seen_from_a_second_store_while_the_job_runs(tmp_path: Path) -> None:
    """The acceptance check: a second connection observes progress before the job ends."""
    worker_store = JobStore(tmp_path)
    observer = JobStore(tmp_path)
    try:
        job = worker_store.create_job("scan", "/tv")
        worker_store.claim_next_job(OWNER)
        step_written = threading.Event()
        step_seen = threading.Event()
        seen: list[tuple[str, int, float | None]] = []

        def run_job() -> None:
            for processed in range(1, 6):
                worker_store.update_progress(
                    job.id, phase="probe", processed=processed, total=5, percent=processed * 20
                )
                step_written.set()
                assert step_seen.wait(10)
                step_seen.clear()
            worker_store.finish_job(job.id, COMPLETED)

        thread = threading.Thread(target=run_job)
        thread.start()
        for _ in range(5):
            assert step_written.wait(10)
            step_written.clear()
            current = observer.get_job(job.id)
            seen.append((current.status, current.processed_count, current.progress_percent))
            step_seen.set()
        thread.join(10)
        assert seen == [
            (RUNNING, 1, 20.0),
            (RUNNING, 2, 40.0),
            (RUNNING, 3, 60.0),
            (RUNNING, 4, 80.0),
            (RUNNING, 5, 99.9),  # 100 is only for completed jobs (docs/design.md §4)
        ]
        assert observer.get_job(job.id).progress_percent == 100.0
    finally:
        worker_store.close()
        observer.close()


def test_reads_do_not_wait_for_an_open_write_transaction(store: JobStore) -> None:
    job = store.create_job("scan", "/tv")
    writer = raw_connection(store)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE jobs SET file_path = '/changed' WHERE id = ?", (job.id,))
    try:
        # Under WAL the store's readers see the last committed state without waiting; were
        # they blocked, these calls would hang until the busy timeout and raise.
        assert store.get_job(job.id).file_path == "/tv"
        page, total = store.list_jobs(JobQuery())
        assert total == 1 and page[0].file_path == "/tv"
        assert store.store_stats()["ok"] is True
    finally:
        writer.execute("COMMIT")
        writer.close()
    assert store.get_job(job.id).file_path == "/changed"


def test_update_progress_validates_and_keeps_unset_fields(store: JobStore) -> None:
    store.create_job("scan", "/tv")
    job = store.claim_next_job(OWNER)
    store.update_progress(job.id, phase="discover", processed=10, total=None)
    store.update_progress(job.id, total=40, percent=25.0)
    current = store.get_job(job.id)
    assert (current.phase, current.processed_count, current.total_count) == ("discover", 10, 40)
    assert current.progress_percent == 25.0
    for bad in ({"percent": 101}, {"percent": -1}, {"percent": float("nan")}, {"processed": -1}):
        with pytest.raises(ValueError):
            store.update_progress(job.id, **bad)
    assert store.get_job(job.id) == current
    with pytest.raises(JobNotFound):
        store.update_progress("no-such-job", processed=1)


def test_late_progress_after_the_job_ended_is_ignored(store: JobStore) -> None:
    store.create_job("scan", "/tv")
    job = store.claim_next_job(OWNER)
    store.update_progress(job.id, processed=3)
    finished = store.finish_job(job.id, CANCELLED)
    assert store.update_progress(job.id, processed=9) is False
    assert store.get_job(job.id) == finished


def test_finish_job(store: JobStore) -> None:
    store.create_job("scan", "/tv")
    job = store.claim_next_job(OWNER)
    store.update_progress(job.id, processed=4, total=8, percent=50)
    summary = {"found": 8, "scanned": 8, "skipped": 0, "added": 8, "removed": 0, "errors": 0}
    done = store.finish_job(job.id, COMPLETED, summary_raw=summary)
    assert done.status == COMPLETED and done.progress_percent == 100.0
    assert done.summary_raw == summary
    assert done.completed_at >= done.started_at
    with pytest.raises(JobAlreadyTerminal) as raised:
        store.finish_job(job.id, FAILED, error_message="again")
    assert raised.value.job.status == COMPLETED
    assert store.get_job(job.id) == done


def test_failed_and_cancelled_keep_progress(store: JobStore) -> None:
    store.create_job("scan", "/a")
    store.create_job("scan", "/b")
    first = store.claim_next_job(OWNER)
    second = store.claim_next_job(OWNER)
    store.update_progress(first.id, processed=3, total=9, percent=33.3)
    store.update_progress(second.id, processed=1, total=9, percent=11.1)
    failed = store.finish_job(first.id, FAILED, error_message="disk vanished")
    cancelled = store.finish_job(second.id, CANCELLED)
    assert (failed.error_message, failed.processed_count, failed.progress_percent) == (
        "disk vanished",
        3,
        33.3,
    )
    assert (cancelled.processed_count, cancelled.progress_percent) == (1, 11.1)


def test_finish_job_bad_input_leaves_no_trace(store: JobStore) -> None:
    job = store.create_job("scan", "/tv")
    counter = store.change_counter()
    with pytest.raises(JobNotFound, match="does not exist"):
        store.finish_job("00000000-0000-4000-8000-000000000000", COMPLETED)
    with pytest.raises(ValueError, match="terminal status"):
        store.finish_job(job.id, RUNNING)
    assert row_count(store, "jobs") == 1
    assert store.get_job(job.id) == job
    assert store.change_counter() == counter


def test_request_cancel(store: JobStore) -> None:
    queued = store.create_job("scan", "/queued")
    running_job = store.create_job("scan", "/running", priority=1)
    store.claim_next_job(OWNER)

    cancelled = store.request_cancel(queued.id)
    assert cancelled.status == CANCELLED and cancelled.completed_at is not None

    assert store.cancel_requested(running_job.id) is False
    flagged = store.request_cancel(running_job.id)
    assert flagged.status == RUNNING and flagged.cancel_requested is True
    assert store.cancel_requested(running_job.id) is True
    assert store.request_cancel(running_job.id).version == flagged.version  # idempotent

    with pytest.raises(JobAlreadyTerminal):
        store.request_cancel(queued.id)
    with pytest.raises(JobNotFound):
        store.request_cancel("missing")
    # Nobody wants work on a job that is gone.
    assert store.cancel_requested("missing") is True


def test_requeue_keeps_attempts_and_resets_the_run(store: JobStore) -> None:
    store.create_job("scan", "/tv")
    job = store.claim_next_job(OWNER)
    store.update_progress(job.id, phase="hash", processed=7, total=10, percent=70)
    requeued = store.requeue_job(job.id)
    assert requeued == store.get_job(job.id)
    assert requeued.status == QUEUED and requeued.attempts == 1
    assert requeued.owner is None and requeued.started_at is None
    assert requeued.cancel_requested is False and requeued.processed_count == 0
    # Why it was requeued goes to the job log; error_message is for failed jobs.
    assert requeued.error_message is None
    # A requeue is not a cancel: the runner being stopped must not end the job cancelled.
    assert store.cancel_requested(job.id) is False
    again = store.claim_next_job("other:2:2")
    assert again.id == job.id and again.attempts == 2 and again.error_message is None
    store.finish_job(job.id, COMPLETED)
    with pytest.raises(JobAlreadyTerminal):
        store.requeue_job(job.id)


def test_a_requeue_after_an_answered_cancel_ends_the_job_cancelled(store: JobStore) -> None:
    store.create_job("scan", "/tv")
    job = store.claim_next_job(OWNER)
    store.request_cancel(job.id)  # answered 200; the runner stops before it sees the flag
    ended = store.requeue_job(job.id)
    assert ended.status == CANCELLED and ended.error_message == "Cancelled."
    assert ended.completed_at is not None
    assert store.claim_next_job(OWNER) is None


def test_an_orphan_whose_cancel_was_answered_ends_cancelled_not_requeued(store: JobStore) -> None:
    store.create_job("scan", "/tv")
    job = store.claim_next_job("dead:1:1")
    store.request_cancel(job.id)
    (outcome,) = store.recover_orphans(lambda owner: False)
    assert outcome[1] == "cancelled" and outcome[0].status == CANCELLED
    assert store.get_job(job.id).status == CANCELLED
    assert store.claim_next_job(OWNER) is None


# --- concurrent claims -----------------------------------------------------------------------


def _claim_all(store: JobStore, owner: str, barrier, out: list[str]) -> None:
    barrier.wait()
    while (job := store.claim_next_job(owner)) is not None:
        out.append(job.id)


@pytest.mark.parametrize("shared_store", [True, False], ids=["one-store", "store-per-thread"])
def test_concurrent_claimers_in_threads_never_share_a_job(tmp_path: Path, shared_store) -> None:
    main = JobStore(tmp_path)
    created = {main.create_job("scan", f"/p{i}").id for i in range(300)}
    stores = [main if shared_store else JobStore(tmp_path) for _ in range(4)]
    barrier = threading.Barrier(len(stores))
    results: list[list[str]] = [[] for _ in stores]
    threads = [
        threading.Thread(target=_claim_all, args=(s, f"h:{n}:1", barrier, results[n]))
        for n, s in enumerate(stores)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    claimed = [job_id for result in results for job_id in result]
    assert len(claimed) == len(set(claimed)) == 300
    assert set(claimed) == created
    assert sum(1 for result in results if result) >= 2  # they really competed
    page, _ = main.list_jobs(JobQuery(limit=100, status=RUNNING))
    assert all(job.attempts == 1 for job in page)
    for s in {id(s): s for s in stores}.values():
        s.close()


def _claim_in_process(data_dir: str, owner: str, barrier, out_path: str) -> None:
    store = JobStore(Path(data_dir))
    claimed: list[str] = []
    barrier.wait()
    while (job := store.claim_next_job(owner)) is not None:
        claimed.append(job.id)
    store.close()
    Path(out_path).write_text("\n".join(claimed))


def test_concurrent_claimers_in_processes_never_share_a_job(tmp_path: Path) -> None:
    with JobStore(tmp_path) as store:
        created = {store.create_job("scan", f"/p{i}").id for i in range(300)}
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    outputs = [tmp_path / f"claimed-{n}.txt" for n in range(2)]
    processes = [
        context.Process(
            target=_claim_in_process, args=(str(tmp_path), f"h:{n}:1", barrier, str(out))
        )
        for n, out in enumerate(outputs)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
        assert process.exitcode == 0
    per_process = [[line for line in out.read_text().splitlines() if line] for out in outputs]
    claimed = per_process[0] + per_process[1]
    assert len(claimed) == len(set(claimed)) == 300
    assert set(claimed) == created
    with JobStore(tmp_path) as store:
        assert store.counts_by_status()[RUNNING] == 300
        assert {store.get_job(job_id).attempts for job_id in created} == {1}


def test_readers_in_many_threads_while_a_writer_works(store: JobStore) -> None:
    store.create_job("scan", "/tv")
    job = store.claim_next_job(OWNER)
    stop = threading.Event()
    errors: list[BaseException] = []
    reads = [0] * 4

    def read_loop(slot: int) -> None:
        try:
            while not stop.is_set():
                seen = store.get_job(job.id)
                assert seen.status == RUNNING
                store.list_jobs(JobQuery(search="tv"))
                store.change_counter()
                reads[slot] += 1
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    readers = [threading.Thread(target=read_loop, args=(n,)) for n in range(4)]
    for reader in readers:
        reader.start()
    for processed in range(200):
        store.update_progress(job.id, processed=processed)
    wait_until(lambda: all(reads), message="every reader thread completed a read")
    stop.set()
    for reader in readers:
        reader.join(10)
    assert errors == []
    assert store.get_job(job.id).processed_count == 199


# --- listing ---------------------------------------------------------------------------------


@pytest.fixture
def listed(store: JobStore) -> dict[str, Job]:
    """A small spread of jobs: types, statuses, paths with LIKE wildcards, known durations."""
    base = datetime(2026, 1, 1, tzinfo=UTC)
    jobs = {
        "old": store.create_job("scan", "/media/old", created_at=base - timedelta(days=40)),
        "percent": store.create_job("scan", "/media/100%_done", created_at=base),
        "underscore": store.create_job("scan", "/media/a_b", created_at=base),
        "plain": store.create_job("transcode", "/media/axb", created_at=base),
        "queued": store.create_job("scan", "/other/queued"),
    }
    with raw_connection(store) as conn:
        # Durations: 'percent' ran 30 s, 'underscore' 5 s, 'plain' 30 s (a tie), 'old' failed
        # after 1 s; 'queued' never started.
        for key, started, seconds, status in (
            ("percent", "2026-01-01T00:00:00.000Z", 30, COMPLETED),
            ("underscore", "2026-01-01T00:00:00.000Z", 5, COMPLETED),
            ("plain", "2026-01-01T00:00:00.000Z", 30, FAILED),
            ("old", "2025-11-22T00:00:00.000Z", 1, FAILED),
        ):
            ended = parse_timestamp(started) + timedelta(seconds=seconds)
            conn.execute(
                "UPDATE jobs SET started_at = ?, completed_at = ?, status = ? WHERE id = ?",
                (started, ended.strftime("%Y-%m-%dT%H:%M:%S.000Z"), status, jobs[key].id),
            )
    return {key: store.get_job(job.id) for key, job in jobs.items()}


def ids(jobs: list[Job]) -> list[str]:
    return [job.id for job in jobs]


def test_list_filters(store: JobStore, listed: dict[str, Job]) -> None:
    page, total = store.list_jobs(JobQuery(status=FAILED))
    assert total == 2 and set(ids(page)) == {listed["plain"].id, listed["old"].id}
    page, total = store.list_jobs(JobQuery(job_type="transcode"))
    assert ids(page) == [listed["plain"].id] and total == 1
    page, total = store.list_jobs(JobQuery(job_type="scan", status=COMPLETED))
    assert total == 2
    since = datetime(2025, 12, 31, tzinfo=UTC)
    page, total = store.list_jobs(JobQuery(since=since))
    assert total == 4 and listed["old"].id not in ids(page)
    page, total = store.list_jobs(JobQuery(id_prefix=listed["queued"].id[:8]))
    assert ids(page) == [listed["queued"].id]
    page, total = store.list_jobs(JobQuery(status="no-such-status"))
    assert (page, total) == ([], 0)


def test_search_is_a_literal_substring(store: JobStore, listed: dict[str, Job]) -> None:
    def search(text: str) -> set[str]:
        return set(ids(store.list_jobs(JobQuery(search=text))[0]))

    assert search("%") == {listed["percent"].id}
    assert search("a_b") == {listed["underscore"].id}  # '_' does not match the x of axb
    assert search("_") == {listed["percent"].id, listed["underscore"].id}
    assert search("/media/") == {listed[k].id for k in ("old", "percent", "underscore", "plain")}
    assert search("nothing") == set()


def test_sorting_is_stable_with_ties_broken_by_id(store: JobStore, listed: dict[str, Job]) -> None:
    same_time = sorted(listed[k].id for k in ("percent", "underscore", "plain"))
    page, _ = store.list_jobs(JobQuery(sort="created_at", order="asc"))
    assert ids(page) == [listed["old"].id, *same_time, listed["queued"].id]
    page, _ = store.list_jobs(JobQuery(sort="created_at", order="desc"))
    assert ids(page) == [listed["queued"].id, *reversed(same_time), listed["old"].id]
    for sort in ("job_type", "status", "file_path"):
        for order in ("asc", "desc"):
            page, _ = store.list_jobs(JobQuery(sort=sort, order=order))
            keys = [(getattr(job, sort), job.id) for job in page]
            assert keys == sorted(keys, reverse=order == "desc"), (sort, order)


def test_sort_by_duration_puts_unstarted_jobs_last(store: JobStore, listed) -> None:
    tie = sorted([listed["percent"].id, listed["plain"].id])
    page, _ = store.list_jobs(JobQuery(sort="duration", order="desc"))
    assert ids(page) == [
        *reversed(tie),
        listed["underscore"].id,
        listed["old"].id,
        listed["queued"].id,
    ]
    page, _ = store.list_jobs(JobQuery(sort="duration", order="asc"))
    assert ids(page) == [listed["old"].id, listed["underscore"].id, *tie, listed["queued"].id]


def test_limit_offset_and_total(store: JobStore) -> None:
    created = [store.create_job("scan", f"/p{i:03d}") for i in range(23)]
    pages = []
    for offset in range(0, 30, 10):
        page, total = store.list_jobs(
            JobQuery(sort="file_path", order="asc", limit=10, offset=offset)
        )
        assert total == 23
        pages.extend(page)
    assert ids(pages) == ids(created)
    assert store.list_jobs(JobQuery(offset=100)) == ([], 23)


def test_list_rejects_what_the_query_parser_should_have_caught(store: JobStore) -> None:
    for bad in (
        JobQuery(sort="id; DROP TABLE jobs"),
        JobQuery(order="sideways"),
        JobQuery(limit=0),
        JobQuery(offset=-1),
    ):
        with pytest.raises(ValueError):
            store.list_jobs(bad)


def test_counts_by_status_lists_every_known_status(store: JobStore) -> None:
    store.create_job("scan", "/a")
    store.create_job("scan", "/b")
    store.claim_next_job(OWNER)
    assert store.counts_by_status() == {
        QUEUED: 1,
        RUNNING: 1,
        COMPLETED: 0,
        FAILED: 0,
        CANCELLED: 0,
    }


# --- orphans and pruning ---------------------------------------------------------------------


def test_recover_orphans_requeues_then_fails_after_three_attempts(store: JobStore) -> None:
    alive_job = store.create_job("scan", "/alive", status=RUNNING, owner="alive:1:1")
    orphan = store.create_job("scan", "/orphan")
    outcomes_per_round = []
    for attempt in range(1, 4):
        claimed = store.claim_next_job(f"dead:{attempt}:1")
        assert claimed.id == orphan.id and claimed.attempts == attempt
        outcomes = store.recover_orphans(lambda owner: owner.startswith("alive"))
        outcomes_per_round.append([(job.id, job.status, action) for job, action in outcomes])
    assert outcomes_per_round == [
        [(orphan.id, QUEUED, "requeued")],
        [(orphan.id, QUEUED, "requeued")],
        [(orphan.id, FAILED, "failed")],
    ]
    failed = store.get_job(orphan.id)
    assert failed.attempts == 3 and "Interrupted 3 times" in failed.error_message
    assert "giving up after 3 attempts" in failed.error_message
    assert failed.completed_at is not None
    assert store.get_job(alive_job.id).status == RUNNING
    assert store.recover_orphans(lambda owner: True) == []


def test_prune_removes_old_terminal_jobs_and_their_logs(store: JobStore) -> None:
    old = datetime.now(UTC) - timedelta(days=40)
    old_done = store.create_job("scan", "/done", created_at=old, priority=1)
    old_queued = store.create_job("scan", "/queued", created_at=old)
    recent = store.create_job("scan", "/recent", priority=2)
    claimed = store.claim_next_job(OWNER)
    assert claimed.id == old_done.id
    store.save_scanned_files(
        claimed.id,
        [ScannedFile("/done/a.mkv", 1, 1.0, scan_status="error", scan_error="unreadable")],
    )
    store.finish_job(claimed.id, COMPLETED)
    with joblog.JobLog(store.logs_dir, old_done.id) as log:
        log.info("scanned")
    with raw_connection(store) as conn:
        conn.execute(
            "UPDATE jobs SET completed_at = ? WHERE id = ?",
            ("2000-01-01T00:00:00.000Z", old_done.id),
        )
    counter = store.change_counter()
    pruned = store.prune_jobs(datetime.now(UTC) - timedelta(days=30))
    assert pruned == [old_done.id]
    assert store.get_job(old_done.id) is None
    assert store.get_job(old_queued.id) is not None and store.get_job(recent.id) is not None
    assert not joblog.has_log(store.logs_dir, old_done.id)
    assert store.file_errors(old_done.id, 10, 0) == ([], 0)
    record = store.get_file("/done/a.mkv")
    assert record is not None and record.last_job_id is None
    assert store.change_counter() > counter
    assert store.prune_jobs(datetime.now(UTC) - timedelta(days=30)) == []


# --- files -----------------------------------------------------------------------------------


@pytest.fixture
def scan_job(store: JobStore) -> Job:
    store.create_job("scan", "/tv")
    return store.claim_next_job(OWNER)


def video(path: str, size: int = 1000, **kwargs) -> ScannedFile:
    streams = kwargs.pop(
        "streams",
        [
            ScannedStream(0, "video", "h264", None, None, 1920, 1080),
            ScannedStream(1, "audio", "aac", "eng", 2),
        ],
    )
    return ScannedFile(
        path,
        size,
        1700000000.5,
        "0123456789abcdef",
        "matroska,webm",
        61.5,
        streams=streams,
        **kwargs,
    )


def test_saved_files_come_back_with_their_streams(store: JobStore, scan_job: Job) -> None:
    store.save_scanned_files(scan_job.id, [video("/tv/a.mkv"), video("/tv/b.mkv", size=5)])
    record = store.get_file("/tv/a.mkv")
    assert (record.size, record.mtime, record.content_hash, record.container) == (
        1000,
        1700000000.5,
        "0123456789abcdef",
        "matroska,webm",
    )
    assert record.duration == 61.5 and record.scan_status == "ok"
    assert record.last_job_id == scan_job.id
    assert [
        (s.index, s.codec_type, s.codec_name, s.language, s.channels, s.width, s.height)
        for s in record.streams
    ] == [(0, "video", "h264", None, None, 1920, 1080), (1, "audio", "aac", "eng", 2, None, None)]
    known = store.known_files(["/tv"])
    assert set(known) == {"/tv/a.mkv", "/tv/b.mkv"}
    assert (known["/tv/b.mkv"].size, known["/tv/b.mkv"].scan_status) == (5, "ok")
    assert store.get_file("/tv/none.mkv") is None


def test_rescan_replaces_streams(store: JobStore, scan_job: Job) -> None:
    store.save_scanned_files(scan_job.id, [video("/tv/a.mkv")])
    store.save_scanned_files(
        scan_job.id,
        [video("/tv/a.mkv", size=2000, streams=[ScannedStream(0, "video", "hevc")])],
    )
    record = store.get_file("/tv/a.mkv")
    assert record.size == 2000
    assert [(s.index, s.codec_name) for s in record.streams] == [(0, "hevc")]
    assert row_count(store, "files") == 1 and row_count(store, "streams") == 1


def test_a_failing_batch_writes_nothing(store: JobStore, scan_job: Job) -> None:
    store.save_scanned_files(scan_job.id, [video("/tv/keep.mkv")])
    before = store.get_file("/tv/keep.mkv")
    duplicate_index = [ScannedStream(0, "video", "h264"), ScannedStream(0, "audio", "aac")]
    with pytest.raises(sqlite3.IntegrityError):
        store.save_scanned_files(
            scan_job.id,
            [
                video("/tv/new.mkv"),
                video("/tv/keep.mkv", size=1),
                video("/tv/bad.mkv", streams=duplicate_index),
            ],
        )
    assert store.get_file("/tv/new.mkv") is None
    assert store.get_file("/tv/keep.mkv") == before
    with pytest.raises(ValueError, match="scan_status"):
        store.save_scanned_files(scan_job.id, [video("/tv/x.mkv", scan_status="missing")])
    with pytest.raises(ValueError, match="no scan_error"):
        store.save_scanned_files(scan_job.id, [video("/tv/x.mkv", scan_status="error")])
    with pytest.raises(JobNotFound):
        store.save_scanned_files("no-such-job", [video("/tv/x.mkv")])
    assert row_count(store, "files") == 1


def test_mark_missing_matches_whole_path_segments(store: JobStore, scan_job: Job) -> None:
    paths = [
        "/tv/a.mkv",
        "/tv/show/b.mkv",
        "/tv2/c.mkv",
        "/tv-extra/d.mkv",
        "/TV/e.mkv",
        "/tv_/f.mkv",
        "/tv%/g.mkv",
    ]
    store.save_scanned_files(scan_job.id, [video(p) for p in paths])
    assert set(store.known_files(["/tv/"])) == {"/tv/a.mkv", "/tv/show/b.mkv"}
    removed = store.mark_missing(["/tv"], {"/tv/a.mkv"}, scan_job.id)
    assert removed == 1
    status = {p: store.get_file(p).scan_status for p in paths}
    assert status == {p: ("missing" if p == "/tv/show/b.mkv" else "ok") for p in paths}
    # Already missing files are not counted again.
    assert store.mark_missing(["/tv"], {"/tv/a.mkv"}, scan_job.id) == 0
    assert store.mark_missing(["/tv/show"], set(), scan_job.id) == 0


def test_mark_missing_of_the_root_directory(store: JobStore, scan_job: Job) -> None:
    store.save_scanned_files(scan_job.id, [video("/a.mkv"), video("/x/b.mkv")])
    assert set(store.known_files(["/"])) == {"/a.mkv", "/x/b.mkv"}
    assert store.mark_missing(["/"], {"/a.mkv"}, scan_job.id) == 1


def test_file_errors_are_paged_with_a_true_total(store: JobStore, scan_job: Job) -> None:
    broken = [
        video(f"/tv/bad{i:02d}.mkv", scan_status="error", scan_error=f"corrupt {i}", streams=[])
        for i in range(12)
    ]
    store.save_scanned_files(scan_job.id, [video("/tv/good.mkv"), *broken])
    store.record_file_errors(scan_job.id, [("/tv/locked", "permission denied")])
    first, total = store.file_errors(scan_job.id, limit=5, offset=0)
    assert total == 13
    assert [(e.path, e.message) for e in first] == [
        (f"/tv/bad{i:02d}.mkv", f"corrupt {i}") for i in range(5)
    ]
    last, total = store.file_errors(scan_job.id, limit=5, offset=10)
    assert total == 13 and [e.path for e in last][-1] == "/tv/locked"
    assert last[-1].to_dict()["message"] == "permission denied"
    # The same path failing again in the same job replaces its message instead of adding one.
    store.record_file_errors(scan_job.id, [("/tv/locked", "still denied")])
    assert store.file_errors(scan_job.id, limit=50, offset=0)[1] == 13
    assert store.file_errors("other-job", 10, 0) == ([], 0)
    with pytest.raises(JobNotFound):
        store.record_file_errors("no-such-job", [("/x", "y")])


def test_a_new_attempt_starts_with_a_clean_error_list(store: JobStore, scan_job: Job) -> None:
    store.record_file_errors(scan_job.id, [("/tv/a", "boom")])
    store.requeue_job(scan_job.id)
    store.claim_next_job(OWNER)
    assert store.file_errors(scan_job.id, 10, 0) == ([], 0)


# --- names that are not UTF-8 ----------------------------------------------------------------

# What a NAS holds after an SMB copy from an old Windows or a Latin-1 rsync: the bytes of
# "Amélie" in Latin-1, kept by Python as surrogates (os.fsdecode).
LATIN1_DIR = os.fsdecode(b"/tv/Am\xe9lie")
LATIN1_FILE = os.fsdecode(b"/tv/bad\xff.mkv")


def test_a_file_name_that_is_not_utf8_is_stored_as_its_exact_bytes(
    store: JobStore, scan_job: Job
) -> None:
    store.save_scanned_files(
        scan_job.id, [video("/tv/good.mkv"), video(LATIN1_FILE), video(LATIN1_DIR + "/e1.mkv")]
    )
    record = store.get_file(LATIN1_FILE)
    assert record is not None and record.path == LATIN1_FILE
    assert os.fsencode(record.path) == b"/tv/bad\xff.mkv"
    assert [s.codec_name for s in record.streams] == ["h264", "aac"]
    # UTF-8 names stay TEXT (readable with any SQLite tool); the others are BLOBs of the bytes.
    with raw_connection(store) as conn:
        stored = dict(conn.execute("SELECT path, typeof(path) FROM files").fetchall())
    assert stored == {
        "/tv/good.mkv": "text",
        b"/tv/bad\xff.mkv": "blob",
        b"/tv/Am\xe9lie/e1.mkv": "blob",
    }
    # A rescan finds every row again under its root, whichever way it is stored.
    assert set(store.known_files(["/tv"])) == {"/tv/good.mkv", LATIN1_FILE, LATIN1_DIR + "/e1.mkv"}
    assert set(store.known_files([LATIN1_DIR])) == {LATIN1_DIR + "/e1.mkv"}
    assert set(store.known_files(["/"])) == set(store.known_files(["/tv"]))
    # Saving it again updates the same row instead of adding a second one.
    store.save_scanned_files(scan_job.id, [video(LATIN1_FILE, size=7)])
    assert row_count(store, "files") == 3 and store.get_file(LATIN1_FILE).size == 7


def test_missing_works_for_names_that_are_not_utf8(store: JobStore, scan_job: Job) -> None:
    store.save_scanned_files(scan_job.id, [video("/tv/good.mkv"), video(LATIN1_FILE)])
    assert store.mark_missing(["/tv"], {"/tv/good.mkv"}, scan_job.id) == 1
    assert store.get_file(LATIN1_FILE).scan_status == "missing"
    assert store.get_file("/tv/good.mkv").scan_status == "ok"
    # Seen again: nothing more is marked.
    store.save_scanned_files(scan_job.id, [video(LATIN1_FILE)])
    assert store.mark_missing(["/tv"], {"/tv/good.mkv", LATIN1_FILE}, scan_job.id) == 0


def test_errors_and_messages_naming_such_files_are_kept(store: JobStore, scan_job: Job) -> None:
    store.save_scanned_files(
        scan_job.id,
        [video(LATIN1_FILE, scan_status="error", scan_error=f"{LATIN1_FILE}: bad", streams=[])],
    )
    store.record_file_errors(scan_job.id, [(LATIN1_DIR, "cannot read directory: denied")])
    errors, total = store.file_errors(scan_job.id, 10, 0)
    assert total == 2
    assert [e.path for e in errors] == [LATIN1_FILE, LATIN1_DIR]
    # Messages are for people: the undecodable byte reads \xff.
    assert errors[0].message == "/tv/bad\\xff.mkv: bad"
    assert store.get_file(LATIN1_FILE).scan_error == "/tv/bad\\xff.mkv: bad"
    assert errors[0].to_dict() == {
        "path": "/tv/bad\\xff.mkv",
        "path_is_utf8": False,
        "message": "/tv/bad\\xff.mkv: bad",
        "created_at": errors[0].created_at,
    }
    assert errors[1].to_dict()["path"] == "/tv/Am\\xe9lie"


def test_a_job_on_a_directory_that_is_not_utf8(store: JobStore) -> None:
    job = store.create_job("scan", LATIN1_DIR, params={"paths": [LATIN1_DIR], "full": False})
    again = store.get_job(job.id)
    assert again.file_path == LATIN1_DIR and again.params["paths"] == [LATIN1_DIR]
    listed = again.to_list_dict()
    assert (listed["file_path"], listed["file_path_is_utf8"]) == ("/tv/Am\\xe9lie", False)
    assert store.create_job("scan", "/tv").to_list_dict()["file_path_is_utf8"] is True
    # Search looks inside such targets too, and an error message quoting one is stored.
    assert [j.id for j in store.list_jobs(JobQuery(search="lie"))[0]] == [job.id]
    claimed = store.claim_next_job(OWNER)
    failed = store.finish_job(claimed.id, FAILED, error_message=f"cannot scan {LATIN1_DIR}")
    assert failed.error_message == "cannot scan /tv/Am\\xe9lie"


def test_a_string_that_cannot_name_a_file_is_refused_and_writes_nothing(store: JobStore) -> None:
    with pytest.raises(ValueError, match="lone surrogate"):
        store.create_job("scan", "/tv/\ud800")
    assert row_count(store, "jobs") == 0


# --- health and closing ----------------------------------------------------------------------


def test_store_stats_and_close(tmp_path: Path) -> None:
    store = JobStore(tmp_path)
    store.create_job("scan", "/tv")
    stats = store.store_stats()
    assert stats["ok"] is True and stats["jobs_queued"] == 1 and stats["jobs_running"] == 0
    store.close()
    store.close()  # idempotent
    assert store.store_stats()["ok"] is False
    with pytest.raises(StoreError, match="closed"):
        store.create_job("scan", "/tv")


# --- retry, counters, error counts (schema 5) ------------------------------------------------


def test_schema_4_database_gains_retry_of_and_a_store_id(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "vpo.db", isolation_level=None) as conn:
        for migration in MIGRATIONS[:4]:
            for statement in migration:
                conn.execute(statement)
        conn.execute(
            "INSERT INTO jobs (id, job_type, status, file_path, created_at, updated_at) "
            "VALUES ('old-job', 'scan', 'failed', '/tv', '2026-01-01T00:00:00.000Z', "
            "'2026-01-01T00:00:00.000Z')"
        )
        conn.execute("PRAGMA user_version = 4")
    with JobStore(tmp_path) as store:
        assert store.get_job("old-job").retry_of is None
        store_id = store.store_id()
        assert len(store_id) == 16 and int(store_id, 16) >= 0
    with JobStore(tmp_path) as again:
        assert again.store_id() == store_id
    with JobStore(tmp_path / "other") as other:
        assert other.store_id() != store_id


def test_retry_job_copies_an_ended_job(tmp_path: Path) -> None:
    with JobStore(tmp_path) as store:
        queued = store.create_job("scan", "/tv", params={"paths": ["/tv"], "full": True})
        with pytest.raises(JobNotFinished):
            store.retry_job(queued.id)
        store.request_cancel(queued.id)
        retried = store.retry_job(queued.id)
        assert (retried.status, retried.retry_of, retried.params) == (
            QUEUED,
            queued.id,
            {"paths": ["/tv"], "full": True},
        )
        assert store.get_job(retried.id) == retried
        with pytest.raises(JobNotFound):
            store.retry_job("00000000-0000-4000-8000-000000000000")


def test_job_stats_count_now_and_since(tmp_path: Path) -> None:
    with JobStore(tmp_path) as store:
        store.create_job("scan", "/a")
        running = store.create_job("scan", "/b", status=RUNNING)
        failed = store.create_job("scan", "/c", status=RUNNING)
        store.finish_job(failed.id, FAILED, error_message="boom")
        before = utc_now()
        assert store.job_stats(before - timedelta(hours=1)) == {
            QUEUED: 1, RUNNING: 1, COMPLETED: 0, FAILED: 1, CANCELLED: 0,
        }  # fmt: skip
        assert store.job_stats(before + timedelta(seconds=5))[FAILED] == 0
        store.finish_job(running.id, COMPLETED)
        assert store.job_stats(before - timedelta(hours=1))[COMPLETED] == 1


def test_recorded_errors_are_counted_and_bump_the_change_counter(tmp_path: Path) -> None:
    with JobStore(tmp_path) as store:
        job = store.create_job("scan", "/tv", status=RUNNING)
        counter = store.change_counter()
        store.record_file_errors(job.id, [("/tv/a.mkv", "boom"), ("/tv/b.mkv", "boom")])
        assert store.error_count(job.id) == 2
        assert store.change_counter() > counter
        counter = store.change_counter()
        store.record_file_errors(job.id, [])
        assert store.change_counter() == counter
