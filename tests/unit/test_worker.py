"""The worker thread against a database that has no room left, without root.

`PRAGMA max_page_count` caps the database file: SQLite then fails every write that needs a new
page with SQLITE_FULL, the very error a full disk gives (the real full disk, a tmpfs, is in
tests/integration/test_disk_full.py). Real store, real worker thread, real scans.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.daemon import wait_until
from tests.support.media import MediaCache, build_many
from vpo.jobs import COMPLETED, FAILED, QUEUED, SCAN, TERMINAL
from vpo.store import JobStore, StorageFull
from vpo.worker import Worker

STILL_NO_ROOM = "still no room for new jobs"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[JobStore]:
    with JobStore(tmp_path / "data") as opened:
        yield opened


def cap_database(store: JobStore, pages: int | None) -> None:
    """Cap the store's database at its current size plus `pages` (None: lift the cap).

    The pragma belongs to the writer connection, so it is set under the store's write lock:
    the worker thread may be writing at the same time.
    """
    with store._write_lock:
        writer = store._writer
        if pages is None:
            writer.execute("PRAGMA max_page_count = 1073741823")
        else:
            current = writer.execute("PRAGMA page_count").fetchone()[0]
            writer.execute(f"PRAGMA max_page_count = {current + pages}")


def scan_job(store: JobStore, root: Path):
    return store.create_job(SCAN, str(root), params={"paths": [str(root)], "full": False})


def wait_ended(store: JobStore, job_id: str, timeout: float = 60):
    def ended():
        job = store.get_job(job_id)
        return job if job.status in TERMINAL else None

    return wait_until(ended, timeout=timeout, message=f"job {job_id} never ended")


def test_a_full_database_fails_the_job_stops_new_ones_and_recovers_by_itself(
    store: JobStore, tmp_path: Path, media_cache: MediaCache, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="vpo.worker")
    library = build_many(tmp_path / "many", media_cache, 40)
    first = scan_job(store, library.root)
    second = scan_job(store, library.root)
    cap_database(store, 0)  # 40 file rows need pages the database may not take

    worker = Worker(store, probe_concurrency=2, room_check_seconds=0.05)
    worker.start()
    try:
        ended = wait_ended(store, first.id)
        assert ended.status == FAILED
        assert ended.error_message.startswith(f"the disk holding the data dir {store.data_dir}")
        assert "Errno" not in ended.error_message
        assert store.storage.problem() is not None
        assert "full" in store.storage.problem()

        # The worker keeps looking for room and, finding none, starts nothing.
        wait_until(lambda: caplog.text.count(STILL_NO_ROOM) >= 3, timeout=30)
        assert store.get_job(second.id).status == QUEUED
        with pytest.raises(StorageFull):
            store.check_room()

        cap_database(store, None)  # room again: no restart, no call from outside
        assert wait_ended(store, second.id).status == COMPLETED
        assert store.storage.problem() is None
    finally:
        worker.stop(grace=5)

    db = sqlite3.connect(store.db_path)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        # The room check leaves nothing behind.
        keys = [row[0] for row in db.execute("SELECT key FROM meta")]
        assert keys == ["change_counter", "store_id"]
    finally:
        db.close()


def test_a_full_database_is_reported_as_storage_full_and_writes_nothing(store: JobStore) -> None:
    before = store.change_counter()
    cap_database(store, 0)
    big = {"paths": ["/tv"], "padding": "x" * 20_000}  # overflow pages: more than fit
    with pytest.raises(StorageFull, match="is full"):
        store.create_job(SCAN, "/tv", params=big)
    assert store.storage.problem() == f"the disk holding the job database {store.db_path} is full"
    assert store.change_counter() == before
    assert store.counts_by_status()[QUEUED] == 0
    # Nothing is left half done: the next write that fits works, the check clears the state.
    cap_database(store, None)
    store.check_room()
    assert store.storage.problem() is None
    assert store.create_job(SCAN, "/tv", params=big).status == QUEUED
