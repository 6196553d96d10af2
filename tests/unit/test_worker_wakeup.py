"""The worker sleeps while the queue is empty and wakes when a job is queued (issue 11).

Real store, real worker thread. A job of an unknown type ends `failed` as soon as it is run, so
these tests see the claim without running a scan.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.daemon import wait_until
from vpo.jobs import FAILED, QUEUED, RUNNING
from vpo.store import JobStore
from vpo.worker import Worker

# How long an idle worker is watched for wake-ups. The worker this replaced polled the queue
# once a second, so it woke at least once in this window.
IDLE_WINDOW_SECONDS = 1.6
NOT_A_TYPE = "no-such-type"  # run at once: the runner fails it without any work


@pytest.fixture
def store(tmp_path: Path) -> Iterator[JobStore]:
    with JobStore(tmp_path / "data") as opened:
        yield opened


@pytest.fixture
def worker(store: JobStore) -> Iterator[Worker]:
    started = Worker(store, owner="test-host:1:1")
    started.start()
    yield started
    started.stop(grace=2.0)


def job_status(store: JobStore, job_id: str) -> str:
    job = store.get_job(job_id)
    assert job is not None
    return job.status


def test_an_idle_worker_does_not_wake(worker: Worker) -> None:
    # Nothing to wait for: the claim is that nothing happens, so the window is watched whole.
    threading.Event().wait(IDLE_WINDOW_SECONDS)
    assert worker.wakeups == 0


def test_a_job_queued_through_the_store_is_claimed_at_once(store: JobStore, worker: Worker) -> None:
    # No `worker.wake()`: the store's queue listener is what wakes it (any code path that
    # queues a job, not only the API's submit).
    job = store.create_job(NOT_A_TYPE, "/media")
    wait_until(lambda: job_status(store, job.id) == FAILED, timeout=10)
    ended = store.get_job(job.id)
    assert ended is not None and ended.attempts == 1
    assert worker.wakeups >= 1


def test_an_orphan_requeued_while_the_daemon_runs_is_picked_up(
    store: JobStore, worker: Worker
) -> None:
    orphan = store.create_job(NOT_A_TYPE, "/media", status=RUNNING, owner="gone-host:1:1")
    recovered = store.recover_orphans(lambda owner: False)
    assert [outcome for _, outcome in recovered] == ["requeued"]
    wait_until(lambda: job_status(store, orphan.id) == FAILED, timeout=10)
    ended = store.get_job(orphan.id)
    assert ended is not None and ended.attempts == 2


def test_an_idle_worker_stops_at_once(store: JobStore) -> None:
    worker = Worker(store, owner="test-host:1:1")
    worker.start()
    worker.stop(grace=5.0)
    assert not worker.is_alive()


def test_queue_listeners_hear_only_commits_that_queue_a_job(store: JobStore) -> None:
    heard: list[int] = []
    store.add_queue_listener(lambda: heard.append(1))

    running = store.create_job(NOT_A_TYPE, "/media", status=RUNNING, owner="test-host:1:1")
    store.update_progress(running.id, phase="probe", processed=1)
    assert heard == []

    queued = store.create_job(NOT_A_TYPE, "/media")
    assert len(heard) == 1

    store.request_cancel(queued.id)  # queued -> cancelled
    store.finish_job(running.id, FAILED, error_message="x")
    assert len(heard) == 1

    again = store.create_job(NOT_A_TYPE, "/media")
    claimed = store.claim_next_job("test-host:1:1")
    assert claimed is not None and claimed.id == again.id
    assert store.requeue_job(again.id).status == QUEUED
    assert len(heard) == 3

    # A write that rolls back queued nothing.
    with pytest.raises(RuntimeError), store._write() as conn:
        conn.execute("UPDATE jobs SET status = 'queued' WHERE id = ?", (running.id,))
        raise RuntimeError("rolled back")
    assert len(heard) == 3
    assert job_status(store, running.id) == FAILED
