"""The `vpo serve` process: start-up refusals, signals, crashes, orphans, retention, config.

A scan that is still running when the test acts on it comes from a library of many real videos
(hard links of one small encoding) with one of its two probes held (SIGSTOP,
tests/support/probe_hold.py): the other probe goes through the rest, and the scan cannot end
before the test acts, however fast the files are probed.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.support.daemon import DaemonProcess, wait_until
from tests.support.media import MediaCache, build_many
from tests.support.probe_hold import HeldProbe, probe_children
from vpo.joblog import JobLog, log_path, read_log
from vpo.jobs import COMPLETED, FAILED, QUEUED, RUNNING, format_timestamp, utc_now
from vpo.store import JobStore

SLOW_SCAN = {"jobs": {"probe_concurrency": 2}}  # one probe held, the other goes on


def alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


DaemonFactory = Callable[..., DaemonProcess]


def job_state(daemon: DaemonProcess, job_id: str) -> dict:
    with httpx.Client(base_url=daemon.url, headers=daemon.headers, timeout=5) as http:
        return http.get(f"/api/jobs/{job_id}").json()


def submit_scan(daemon: DaemonProcess, path: Path) -> str:
    with daemon.client() as http:
        response = http.post("/api/jobs", json={"job_type": "scan", "path": str(path)})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def wait_running(daemon: DaemonProcess, job_id: str, min_processed: int = 0) -> dict:
    def running() -> dict | None:
        state = job_state(daemon, job_id)
        ok = state["status"] == RUNNING and state["processed_count"] >= min_processed
        return state if ok else None

    return wait_until(running, timeout=30, message=f"job {job_id} never ran")


def job_log(daemon: DaemonProcess, job_id: str) -> list[str]:
    """The job's log lines without their timestamps."""
    lines = read_log(daemon.data_dir / "logs", job_id, lines=1000).lines
    return [line.split(" ", 1)[1] for line in lines]


def wait_terminal(daemon: DaemonProcess, job_id: str, timeout: float = 90) -> dict:
    def terminal() -> dict | None:
        state = job_state(daemon, job_id)
        return state if state["status"] in ("completed", "failed", "cancelled") else None

    return wait_until(terminal, timeout=timeout, message=f"job {job_id} never ended")


# -- refusing to start -----------------------------------------------------------------------


def run_serve(tmp_path: Path, *args: str, config: str | None = None) -> subprocess.CompletedProcess:
    data_dir = tmp_path / "refused"
    data_dir.mkdir(exist_ok=True)
    if config is not None:
        (data_dir / "config.toml").write_text(config)
    probe = DaemonProcess(tmp_path, data_dir=data_dir)
    return subprocess.run(
        [probe.command[0], "serve", "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        timeout=30,
        env=probe._env,
    )


def test_refuses_to_bind_all_interfaces_without_token(tmp_path: Path) -> None:
    result = run_serve(tmp_path, "--bind", "0.0.0.0", "--port", "0")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "refusing to listen on 0.0.0.0" in lines[0] and "token" in lines[0]
    assert "Traceback" not in result.stderr


def test_refuses_a_short_token_beyond_loopback(tmp_path: Path) -> None:
    result = run_serve(
        tmp_path, "--bind", "0.0.0.0", "--port", "0", config='[server]\nauth_token = "short"\n'
    )
    assert result.returncode == 2
    assert "at least 16 characters that are not whitespace (it has 5)" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("token", [" " * 16, "\t" * 40, "abc " * 5, " secret-value-1 "])
def test_refuses_a_token_of_whitespace_beyond_loopback(tmp_path: Path, token: str) -> None:
    # 16 characters, but not 16 that an attacker would have to guess.
    assert len(token) >= 16
    config = f"[server]\nauth_token = {json.dumps(token)}\n"
    result = run_serve(tmp_path, "--bind", "0.0.0.0", "--port", "0", config=config)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "16 characters that are not whitespace" in lines[0]
    assert "Traceback" not in result.stderr


def test_bad_config_is_a_one_line_error(tmp_path: Path) -> None:
    result = run_serve(tmp_path, config="[server]\nport = 'eighty'\n")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "server.port" in result.stderr and "Traceback" not in result.stderr


def test_port_in_use_is_a_clear_error(daemon_factory: DaemonFactory) -> None:
    first = daemon_factory().start()
    second = daemon_factory(port=first.port)
    second.spawn()
    assert second.wait(15) == 1
    assert "cannot listen on 127.0.0.1" in second.stderr_text()
    assert "Traceback" not in second.stderr_text()


# -- signals ---------------------------------------------------------------------------------


def test_sigterm_when_idle_exits_zero(daemon_factory: DaemonFactory) -> None:
    daemon = daemon_factory().start()
    started = time.monotonic()
    daemon.signal(signal.SIGTERM)
    assert daemon.wait(10) == 0
    # Speed is not asserted as wall-clock time beyond the 10 s of docs/design.md §3 (wait() above).
    assert time.monotonic() - started < 10
    assert "stopped" in daemon.stderr_text()


def test_sigint_exits_zero(daemon_factory: DaemonFactory) -> None:
    daemon = daemon_factory().start()
    daemon.signal(signal.SIGINT)
    assert daemon.wait(10) == 0


def test_sigterm_during_a_scan_requeues_it_and_answers_503(
    daemon_factory: DaemonFactory, tmp_path: Path, media_cache: MediaCache
) -> None:
    library = build_many(tmp_path / "many", media_cache, 300)
    daemon = daemon_factory(config=SLOW_SCAN).start()
    job_id = submit_scan(daemon, library.root)
    held = HeldProbe(daemon.pid)
    wait_running(daemon, job_id, min_processed=1)
    seen: list[dict] = []

    def shutting_down_seen() -> bool:
        try:
            response = httpx.get(f"{daemon.url}/health", timeout=2)
        except httpx.HTTPError:
            return daemon.returncode is not None
        if response.status_code == 503:
            seen.append(response.json())
        return bool(seen) or daemon.returncode is not None

    # A probe held (SIGSTOP) across the signal: the scan cannot finish within the shutdown
    # grace however fast the machine is, so it is the requeue path that runs. The daemon kills
    # the held probe (SIGKILL works on a stopped process) when the grace runs out.
    with held:
        daemon.signal(signal.SIGTERM)
        exit_deadline = time.monotonic() + 10  # docs/design.md §3: exit within 10 s of the signal
        wait_until(shutting_down_seen, timeout=10)
        assert seen, "no 503 answer while shutting down"
        assert seen[0]["code"] == "SHUTTING_DOWN"
        assert daemon.wait(max(0.0, exit_deadline - time.monotonic())) == 0

    with JobStore(daemon.data_dir) as store:
        job = store.get_job(job_id)
        assert job is not None
        assert job.status == QUEUED
        assert job.attempts == 1
        # The requeue is said in the job's log; error_message is for jobs that failed.
        assert job.error_message is None
    assert "WARN  Daemon shutting down: the job goes back to the queue." in job_log(daemon, job_id)

    # The next daemon takes it up again.
    daemon.start()
    # Still running when the cancel arrives, and until it takes effect: released before that,
    # the held probe may have been the scan's last file, and the scan would complete first.
    with HeldProbe(daemon.pid):
        state = wait_running(daemon, job_id)
        assert state["attempts"] == 2
        with daemon.client() as http:
            assert http.post(f"/api/jobs/{job_id}/cancel", json={}).status_code == 200
        assert wait_terminal(daemon, job_id)["status"] == "cancelled"


# -- crashes and orphans ---------------------------------------------------------------------


def test_kill_9_mid_scan_then_restart_completes_with_nothing_lost(
    daemon_factory: DaemonFactory, tmp_path: Path, media_cache: MediaCache
) -> None:
    count = 40
    library = build_many(tmp_path / "many", media_cache, count)
    daemon = daemon_factory(config=SLOW_SCAN).start()
    job_id = submit_scan(daemon, library.root)
    held = HeldProbe(daemon.pid)
    state = wait_running(daemon, job_id, min_processed=3)
    assert state["processed_count"] < count
    workers = [pid for pid, _ in probe_children(daemon.pid)]
    assert held.pid in workers
    daemon.kill()
    # No probe worker outlives the daemon. The held one is let go first: it may have been
    # stopped while still starting, before it asked the kernel for SIGKILL on its parent's
    # death; resumed, it finds its parent gone and leaves (vpo/probe_worker.py).
    held.release()
    wait_until(lambda: not any(alive(pid) for pid in workers), timeout=10)

    daemon.start()
    final = wait_terminal(daemon, job_id, timeout=120)
    assert final["status"] == "completed", final
    assert final["attempts"] == 2
    assert final["summary_raw"]["found"] == count
    assert final["summary_raw"]["errors"] == 0
    assert f"job {job_id}" in daemon.stderr_text() and "requeued" in daemon.stderr_text()
    lines = job_log(daemon, job_id)
    requeued = [
        n for n, line in enumerate(lines) if line.startswith("WARN  Requeued after attempt")
    ]
    assert len(requeued) == 1, lines
    assert "attempt 1 of 3" in lines[requeued[0]] and "stopped" in lines[requeued[0]]
    # Said between the first attempt's lines and the second's.
    assert any("started on" in line for line in lines[: requeued[0]])
    assert any("started on" in line for line in lines[requeued[0] :])
    assert not any("Traceback" in line or "Errno" in line for line in lines)

    with JobStore(daemon.data_dir) as store:
        for path in library.videos.values():
            record = store.get_file(str(path))
            assert record is not None, f"{path} missing from the files table"
            assert record.scan_status == "ok" and record.content_hash
            assert record.streams, f"{path} has no streams"
    db = sqlite3.connect(daemon.data_dir / "vpo.db")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        db.close()


def test_three_interrupted_attempts_fail_the_job(
    daemon_factory: DaemonFactory, tmp_path: Path, media_cache: MediaCache
) -> None:
    library = build_many(tmp_path / "many", media_cache, 300)
    daemon = daemon_factory(config=SLOW_SCAN).start()
    job_id = submit_scan(daemon, library.root)
    for attempt in (1, 2, 3):
        with HeldProbe(daemon.pid):  # still running when killed, however fast the probes
            state = wait_running(daemon, job_id)
            assert state["attempts"] == attempt
            daemon.kill()
        daemon.start()
    final = wait_terminal(daemon, job_id, timeout=15)
    assert final["status"] == "failed"
    assert "Interrupted 3 times" in final["error_message"]
    assert "giving up after 3 attempts" in final["error_message"]
    assert "marked failed" in daemon.stderr_text()
    lines = job_log(daemon, job_id)
    assert [line for line in lines if "Requeued after attempt" in line] == [
        "WARN  Requeued after attempt 1 of 3: the process running the job stopped without "
        "ending it (a crash, or kill -9).",
        "WARN  Requeued after attempt 2 of 3: the process running the job stopped without "
        "ending it (a crash, or kill -9).",
    ]
    assert lines[-1] == (
        "ERROR The process running the job stopped again; giving up after 3 attempts."
    )


def test_a_cancel_answered_before_a_kill_9_holds_across_the_restart(
    daemon_factory: DaemonFactory, tmp_path: Path, media_cache: MediaCache
) -> None:
    library = build_many(tmp_path / "many", media_cache, 300)
    daemon = daemon_factory(config=SLOW_SCAN).start()
    # The held probe keeps the scan running; the runner still reads the cancel flag 4 times a
    # second, so the kill, sent the moment the answer arrives, almost always lands before it
    # does. When the runner was quicker (the job already ended cancelled, which proves
    # nothing), the scenario is played again.
    for _ in range(3):
        job_id = submit_scan(daemon, library.root)
        with HeldProbe(daemon.pid):
            wait_running(daemon, job_id, min_processed=1)
            with daemon.client() as http:
                answer = http.post(f"/api/jobs/{job_id}/cancel", json={})
            daemon.kill()
        assert answer.status_code == 200, answer.text
        with JobStore(daemon.data_dir) as store:
            at_kill = store.get_job(job_id)
        assert at_kill is not None
        if at_kill.status == RUNNING:
            break
        daemon.start()
    else:
        pytest.fail("the runner saw the cancel before every kill")
    # What the 200 promised is on disk, though the runner never saw it.
    assert at_kill.cancel_requested

    daemon.start()
    # Orphans are settled before the daemon answers: the job is not queued, never was again.
    state = job_state(daemon, job_id)
    assert state["status"] == "cancelled", state
    assert state["attempts"] == 1
    assert state["error_message"] == "Cancelled."
    assert "marked cancelled" in daemon.stderr_text()
    assert job_log(daemon, job_id)[-1] == (
        "WARN  Job cancelled: the process running it stopped before it saw the cancel."
    )
    # Still so once the worker has had every chance to take it.
    (tmp_path / "empty").mkdir()
    with daemon.client() as http:
        other = http.post("/api/jobs", json={"job_type": "scan", "path": str(tmp_path / "empty")})
    assert wait_terminal(daemon, other.json()["id"])["status"] == "completed"
    assert job_state(daemon, job_id)["status"] == "cancelled"


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_orphans_are_requeued_but_live_owners_keep_their_jobs(
    daemon_factory: DaemonFactory, tmp_path: Path
) -> None:
    (tmp_path / "empty").mkdir()
    daemon = daemon_factory()
    with JobStore(daemon.data_dir) as store:
        # A job of this (live) test process, like a foreground `vpo scan` running right now.
        alive = store.create_job("scan", str(tmp_path / "empty"), status=RUNNING)
        dead_owner = f"{socket.gethostname()}:{_dead_pid()}:{int(time.time()) - 60}"
        orphan = store.create_job(
            "scan",
            str(tmp_path / "empty"),
            status=RUNNING,
            owner=dead_owner,
            params={"paths": [str(tmp_path / "empty")], "full": False},
        )
        # The machine was renamed, or the container re-created: nobody will finish this one.
        renamed = store.create_job(
            "scan",
            str(tmp_path / "empty"),
            status=RUNNING,
            owner=f"old-name-of-this-box:{os.getpid()}:{int(time.time())}",
            params={"paths": [str(tmp_path / "empty")], "full": False},
        )
    daemon.start()
    for job in (orphan, renamed):
        final = wait_terminal(daemon, job.id, timeout=30)
        assert final["status"] == "completed" and final["attempts"] == 2
        assert f"job {job.id}" in daemon.stderr_text()
    assert job_state(daemon, alive.id)["status"] == "running"


# -- retention -------------------------------------------------------------------------------


def test_old_terminal_jobs_are_pruned_with_their_logs(
    daemon_factory: DaemonFactory, tmp_path: Path
) -> None:
    daemon = daemon_factory(config={"jobs": {"retention_days": 30}})
    with JobStore(daemon.data_dir) as store:
        old = store.create_job("scan", str(tmp_path), status=RUNNING)
        store.finish_job(old.id, COMPLETED)
        recent = store.create_job("scan", str(tmp_path), status=RUNNING)
        store.finish_job(recent.id, FAILED, error_message="x")
        for job_id in (old.id, recent.id):
            with JobLog(store.logs_dir, job_id) as log:
                log.info("line")
        logs_dir = store.logs_dir
    # Backdate the old job's end: the store's API only ever writes "now".
    db = sqlite3.connect(daemon.data_dir / "vpo.db")
    long_ago = format_timestamp(utc_now().replace(year=utc_now().year - 1))
    with db:
        db.execute("UPDATE jobs SET completed_at = ? WHERE id = ?", (long_ago, old.id))
    db.close()

    daemon.start()
    wait_until(lambda: job_state(daemon, old.id).get("code") == "NOT_FOUND", timeout=10)
    assert not log_path(logs_dir, old.id).exists()
    assert job_state(daemon, recent.id)["status"] == "failed"
    assert log_path(logs_dir, recent.id).exists()
    assert "retention: pruned 1 jobs" in daemon.stderr_text()


# -- logging and configuration ---------------------------------------------------------------


def test_json_log_format(daemon_factory: DaemonFactory) -> None:
    daemon = daemon_factory(extra_args=["--log-format", "json"]).start()
    assert daemon.stop() == 0
    lines = daemon.stderr_text().strip().splitlines()
    assert lines
    for line in lines:
        entry = json.loads(line)
        assert {"time", "level", "logger", "message"} <= set(entry)
    assert any("serving http://127.0.0.1" in json.loads(line)["message"] for line in lines)


@pytest.mark.parametrize(
    ("config", "env", "expected_ms"),
    [
        ({"polling": {"interval_seconds": 7}}, {}, 7000),
        ({"polling": {"interval_seconds": 7}}, {"VPO_POLLING_INTERVAL": "9"}, 9000),
        ({"polling": {"interval_seconds": 1}}, {}, 2000),
    ],
)
def test_polling_settings_follow_precedence_and_clamping(
    daemon_factory: DaemonFactory, config: dict, env: dict, expected_ms: int
) -> None:
    daemon = daemon_factory(config=config, env=env).start()
    with daemon.client() as http:
        body = http.get("/api/config/polling").json()
    assert body["interval_ms"] == expected_ms
    assert body["log_interval_ms"] >= body["interval_ms"]
    if expected_ms == 2000:
        assert "polling interval 1s" in daemon.stderr_text()


def test_flag_beats_environment_for_the_log_level(daemon_factory: DaemonFactory) -> None:
    daemon = daemon_factory(extra_args=["--log-level", "debug"], env={"VPO_LOG_LEVEL": "error"})
    daemon.start()
    with daemon.client() as http:
        http.get("/api/jobs")
    daemon.stop()
    # At debug level the access log is on; at error level even the start line would be missing.
    assert "GET /api/jobs" in daemon.stderr_text()


def test_scans_use_the_configured_extensions(daemon_factory: DaemonFactory, tmp_path: Path) -> None:
    library = tmp_path / "odd-library"
    library.mkdir()
    (library / "home-video.vob").write_bytes(b"not a real video")
    (library / "film.mkv").write_bytes(b"not a real video either")
    daemon = daemon_factory(config={"scan": {"extensions": ["vob"]}}).start()
    job = wait_terminal(daemon, submit_scan(daemon, library))
    assert job["summary_raw"]["found"] == 1
    with JobStore(daemon.data_dir) as store:
        assert store.get_file(str(library / "home-video.vob")) is not None
        assert store.get_file(str(library / "film.mkv")) is None
