"""A full data disk never wedges a job: the daemon says it is degraded, refuses new work with
507, keeps retrying the write that ends the job, and recovers by itself once space returns.

The real fault is a small tmpfs filled to the last byte (needs root to mount; skipped with the
reason otherwise). Without root, a job log that is a symbolic link to /dev/full gives the same
ENOSPC on every log write, for real, on any machine.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.daemon import DaemonProcess, wait_until
from tests.support.media import MediaCache, build_many
from tests.support.probe_hold import HeldProbe
from tests.support.small_disk import fill, small_disk
from vpo.joblog import log_path, read_log

DaemonFactory = Callable[..., DaemonProcess]
# One probe at a time: a held probe then holds the whole scan at a known point.
SLOW_SCAN = {"jobs": {"probe_concurrency": 1}}
TERMINAL = ("completed", "failed", "cancelled")


def job_state(daemon: DaemonProcess, job_id: str) -> dict:
    with daemon.client() as http:
        return http.get(f"/api/jobs/{job_id}").json()


def submit_scan(daemon: DaemonProcess, path: Path) -> httpx.Response:
    with daemon.client() as http:
        return http.post("/api/jobs", json={"job_type": "scan", "path": str(path)})


def wait_status(daemon: DaemonProcess, job_id: str, statuses: tuple[str, ...], timeout=60) -> dict:
    def reached() -> dict | None:
        state = job_state(daemon, job_id)
        return state if state["status"] in statuses else None

    return wait_until(reached, timeout=timeout, message=f"job {job_id} never reached {statuses}")


def health(daemon: DaemonProcess) -> httpx.Response:
    return httpx.get(f"{daemon.url}/health", timeout=5)


def assert_database_intact(data_dir: Path) -> None:
    db = sqlite3.connect(data_dir / "vpo.db")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        db.close()


# -- a real full disk (tmpfs) ----------------------------------------------------------------


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    with small_disk(tmp_path / "small-disk") as mount_point:
        yield mount_point


def test_a_full_disk_degrades_the_daemon_then_it_recovers_by_itself(
    disk: Path, daemon_factory: DaemonFactory, tmp_path: Path, media_cache: MediaCache
) -> None:
    library = build_many(tmp_path / "many", media_cache, 30)
    daemon = daemon_factory(data_dir=disk / "vpo", config=SLOW_SCAN).start()
    first = submit_scan(daemon, library.root).json()["id"]
    wait_status(daemon, first, ("running",))

    with HeldProbe(daemon.pid) as held:
        # Queued behind the first: it must not start while the daemon cannot write.
        second = submit_scan(daemon, library.root).json()["id"]
        filler = fill(disk)
        held.release()

        def degraded() -> dict | None:
            response = health(daemon)
            return response.json() if response.status_code == 503 else None

        body = wait_until(degraded, timeout=60, message="/health never said degraded")

    assert body["code"] == "DEGRADED"
    assert body["details"]["status"] == "degraded"
    assert "full" in body["details"]["reason"]
    assert body["error"] == body["details"]["reason"]

    # New work is refused with 507, in the envelope, naming the cause.
    refused = submit_scan(daemon, library.root)
    assert refused.status_code == 507, refused.text
    assert set(refused.json()) == {"error", "code", "details"}
    assert refused.json()["code"] == "INSUFFICIENT_STORAGE"
    assert "full" in refused.json()["error"] and "full" in refused.json()["details"]["reason"]
    assert refused.headers["Retry-After"]
    with daemon.client() as http:
        cancel = http.post(f"/api/jobs/{second}/cancel", json={})
    assert cancel.status_code == 507 and cancel.json()["code"] == "INSUFFICIENT_STORAGE"
    # The second job is not started while the worker cannot record what it does.
    assert job_state(daemon, second)["status"] == "queued"
    assert job_state(daemon, first)["status"] == "running"  # its runner is alive and retrying

    filler.unlink()  # space returns; nothing is restarted

    wait_until(lambda: health(daemon).status_code == 200, timeout=60, message="never recovered")
    assert health(daemon).json()["status"] == "ok"
    ended = wait_status(daemon, first, TERMINAL)
    assert ended["status"] == "failed"
    assert "full" in ended["error_message"]
    assert "Errno" not in ended["error_message"] and "Traceback" not in ended["error_message"]
    assert wait_status(daemon, second, TERMINAL, timeout=120)["status"] == "completed"
    third = submit_scan(daemon, library.root)
    assert third.status_code == 201, third.text
    assert wait_status(daemon, third.json()["id"], TERMINAL, timeout=120)["status"] == "completed"

    lines = read_log(daemon.data_dir / "logs", first, lines=1000).lines
    assert not any("Traceback" in line for line in lines)
    assert daemon.stop() == 0
    assert_database_intact(daemon.data_dir)


# -- an injected ENOSPC on the job log (no root needed) --------------------------------------


def test_a_job_log_that_cannot_be_written_fails_the_job_instead_of_wedging_it(
    daemon_factory: DaemonFactory, tmp_path: Path, media_cache: MediaCache
) -> None:
    library = build_many(tmp_path / "many", media_cache, 20)
    daemon = daemon_factory(config=SLOW_SCAN).start()
    first = submit_scan(daemon, library.root).json()["id"]
    with HeldProbe(daemon.pid):
        victim = submit_scan(daemon, library.root).json()["id"]
        # /dev/full answers every write with ENOSPC: the victim's log "is on a full disk".
        log_path(daemon.data_dir / "logs", victim).symlink_to("/dev/full")
    assert wait_status(daemon, first, TERMINAL)["status"] == "completed"

    ended = wait_status(daemon, victim, TERMINAL)
    assert ended["status"] == "failed", ended
    assert "full" in ended["error_message"]
    assert "Errno" not in ended["error_message"]
    # The daemon finds room again by itself (this was one file on a full device) and goes on.
    wait_until(lambda: health(daemon).status_code == 200, timeout=30)
    after = submit_scan(daemon, library.root)
    assert after.status_code == 201, after.text
    assert wait_status(daemon, after.json()["id"], TERMINAL)["status"] == "completed"
    assert health(daemon).status_code == 200
    assert daemon.stop() == 0
    assert_database_intact(daemon.data_dir)
