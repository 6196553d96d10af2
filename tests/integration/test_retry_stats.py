"""Acting on jobs over real HTTP: `POST /api/jobs/{id}/retry`, `GET /api/stats` (with its tag),
and a job's `errors_count`, which grows while the job runs.

Jobs in known states are seeded into the daemon's database by a JobStore of this process, the
way a foreground `vpo scan` shares it: created `running` and owned by this live process, so the
daemon's worker never takes them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from tests.integration.test_api import UNKNOWN_ID, assert_error, seed
from tests.support.daemon import DaemonProcess, wait_until
from tests.support.media import MediaCache, build_library
from tests.support.probe_hold import HeldProbe
from vpo.jobs import CANCELLED, COMPLETED, FAILED, QUEUED, RUNNING, format_timestamp, utc_now
from vpo.store import JobStore


@pytest.fixture
def store(daemon: DaemonProcess) -> Iterator[JobStore]:
    job_store = JobStore(daemon.data_dir)
    yield job_store
    job_store.close()


@pytest.fixture
def http(daemon: DaemonProcess) -> Iterator[httpx.Client]:
    with daemon.client() as client:
        yield client


# -- retry -----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [FAILED, CANCELLED, COMPLETED])
def test_retry_queues_a_copy_that_names_its_original(
    http: httpx.Client, store: JobStore, tmp_path: Path, status: str
) -> None:
    original = seed(store, str(tmp_path), status, params={"paths": [str(tmp_path)], "full": True})
    response = http.post(f"/api/jobs/{original.id}/retry")
    assert response.status_code == 201, response.text
    retried = response.json()
    assert retried["id"] != original.id
    assert retried["retry_of"] == original.id
    assert retried["status"] == QUEUED and retried["attempts"] == 0
    assert (retried["job_type"], retried["file_path"]) == ("scan", str(tmp_path))
    assert response.headers["Location"] == f"/api/jobs/{retried['id']}"
    stored = store.get_job(retried["id"])
    assert stored is not None and stored.params == original.params
    assert stored.priority == original.priority
    # The detail says the same; the original is untouched.
    assert http.get(f"/api/jobs/{retried['id']}").json()["retry_of"] == original.id
    again = http.get(f"/api/jobs/{original.id}").json()
    assert again["status"] == status and again["retry_of"] is None


def test_retry_of_a_running_job_is_409(http: httpx.Client, store: JobStore, tmp_path) -> None:
    running = seed(store, str(tmp_path), RUNNING)
    body = assert_error(http.post(f"/api/jobs/{running.id}/retry", json={}), 409, "NOT_FINISHED")
    assert body["details"] == {"job_id": running.id, "status": RUNNING}
    assert http.get("/api/jobs", params={"search": str(tmp_path)}).json()["total"] == 1


def test_retry_of_a_queued_job_is_409(
    http: httpx.Client, daemon: DaemonProcess, tmp_path: Path, media_cache: MediaCache
) -> None:
    library = build_library(tmp_path / "lib", media_cache)
    scan = {"job_type": "scan", "path": str(library.root)}
    busy = http.post("/api/jobs", json=scan).json()
    # The worker runs one job at a time: with its scan held, the next one stays queued.
    with HeldProbe(daemon.pid):
        waiting = http.post("/api/jobs", json=scan).json()
        assert http.get(f"/api/jobs/{waiting['id']}").json()["status"] == QUEUED
        body = assert_error(http.post(f"/api/jobs/{waiting['id']}/retry"), 409, "NOT_FINISHED")
        assert body["details"]["status"] == QUEUED
        http.post(f"/api/jobs/{busy['id']}/cancel")
        http.post(f"/api/jobs/{waiting['id']}/cancel")


def test_retry_errors_name_the_problem(http: httpx.Client, store: JobStore, tmp_path) -> None:
    assert_error(http.post(f"/api/jobs/{UNKNOWN_ID}/retry"), 404, "NOT_FOUND")
    assert_error(http.post("/api/jobs/nope/retry"), 400, "INVALID_ID_FORMAT")
    job = seed(store, str(tmp_path), FAILED)
    assert_error(
        http.post(f"/api/jobs/{job.id}/retry", json={"full": True}),
        400,
        "INVALID_PARAMETER",
        "full",
    )
    assert_error(http.post(f"/api/jobs/{job.id}/retry", json=[1]), 400, "INVALID_PARAMETER")
    assert_error(
        http.post(
            f"/api/jobs/{job.id}/retry",
            content=b"{",
            headers={"Content-Type": "application/json"},
        ),
        400,
        "INVALID_JSON",
    )
    assert http.get("/api/jobs", params={"search": str(tmp_path)}).json()["total"] == 1


def test_a_retried_scan_runs(http: httpx.Client, tmp_path: Path) -> None:
    library = tmp_path / "empty"
    library.mkdir()
    first = http.post("/api/jobs", json={"job_type": "scan", "path": str(library)}).json()

    def ended(job_id: str) -> str | None:
        status = http.get(f"/api/jobs/{job_id}").json()["status"]
        return status if status in (COMPLETED, FAILED, CANCELLED) else None

    assert wait_until(lambda: ended(first["id"]), timeout=60) == COMPLETED
    second = http.post(f"/api/jobs/{first['id']}/retry").json()
    assert wait_until(lambda: ended(second["id"]), timeout=60) == COMPLETED


# -- stats -----------------------------------------------------------------------------------


def _backdate_end(daemon: DaemonProcess, job_id: str, hours: float) -> None:
    """Move a finished job's end into the past (no API does that; the test writes the row)."""
    moment = format_timestamp(utc_now() - timedelta(hours=hours))
    with sqlite3.connect(daemon.data_dir / "vpo.db") as conn:
        conn.execute("UPDATE jobs SET completed_at = ? WHERE id = ?", (moment, job_id))
        conn.execute("UPDATE meta SET value = value + 1 WHERE key = 'change_counter'")


def test_stats_count_now_and_the_last_day(
    http: httpx.Client, daemon: DaemonProcess, store: JobStore, tmp_path: Path
) -> None:
    empty = http.get("/api/stats")
    assert empty.status_code == 200
    assert empty.json() == {
        "queued": 0,
        "running": 0,
        "last_24h": {"completed": 0, "failed": 0, "cancelled": 0},
    }
    seed(store, str(tmp_path), RUNNING)
    seed(store, str(tmp_path), FAILED)
    seed(store, str(tmp_path), FAILED)
    seed(store, str(tmp_path), CANCELLED)
    old = seed(store, str(tmp_path), COMPLETED)
    seed(store, str(tmp_path), COMPLETED)
    _backdate_end(daemon, old.id, hours=25)
    body = http.get("/api/stats").json()
    assert body == {
        "queued": 0,
        "running": 1,
        "last_24h": {"completed": 1, "failed": 2, "cancelled": 1},
    }


def test_stats_answer_304_until_a_job_changes(
    http: httpx.Client, store: JobStore, tmp_path: Path
) -> None:
    first = http.get("/api/stats")
    tag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "no-cache"
    again = http.get("/api/stats", headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["ETag"] == tag
    job = seed(store, str(tmp_path), RUNNING)
    changed = http.get("/api/stats", headers={"If-None-Match": tag})
    assert changed.status_code == 200 and changed.json()["running"] == 1
    assert changed.headers["ETag"] != tag
    store.finish_job(job.id, FAILED, error_message="boom")
    ended = http.get("/api/stats", headers={"If-None-Match": changed.headers["ETag"]})
    assert ended.status_code == 200
    assert ended.json()["running"] == 0 and ended.json()["last_24h"]["failed"] == 1


def test_stats_take_no_parameters(http: httpx.Client) -> None:
    assert_error(http.get("/api/stats", params={"since": "1h"}), 400, "INVALID_PARAMETER", "since")


# -- errors_count ----------------------------------------------------------------------------


def test_errors_count_grows_while_the_job_runs(
    http: httpx.Client, store: JobStore, tmp_path: Path
) -> None:
    job = seed(store, str(tmp_path), RUNNING)
    first = http.get(f"/api/jobs/{job.id}")
    assert first.json()["errors_count"] == 0
    tag = first.headers["ETag"]
    store.record_file_errors(job.id, [(str(tmp_path / "a.mkv"), "cannot read file: EIO")])
    # A new count is a new body: the old tag no longer matches, even within the same second.
    grown = http.get(f"/api/jobs/{job.id}", headers={"If-None-Match": tag})
    assert grown.status_code == 200 and grown.json()["errors_count"] == 1
    store.record_file_errors(
        job.id,
        [(str(tmp_path / "b.mkv"), "ffprobe failed"), (str(tmp_path / "c.mkv"), "ffprobe failed")],
    )
    assert http.get(f"/api/jobs/{job.id}").json()["errors_count"] == 3
    assert http.get(f"/api/jobs/{job.id}/errors").json()["total"] == 3
    ended = http.post(f"/api/jobs/{job.id}/cancel").json()
    assert ended["errors_count"] == 3


def test_a_json_null_body_is_not_an_empty_one(
    http: httpx.Client, store: JobStore, tmp_path: Path
) -> None:
    """Found by schemathesis: `null` was read as "no body" and the retry was made."""
    job = seed(store, str(tmp_path), FAILED)
    headers = {"Content-Type": "application/json"}
    for action in ("retry", "cancel"):
        response = http.post(f"/api/jobs/{job.id}/{action}", content=b"null", headers=headers)
        assert_error(response, 400, "INVALID_PARAMETER", "body")
    assert http.get("/api/jobs", params={"search": str(tmp_path)}).json()["total"] == 1
