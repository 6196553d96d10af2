"""`vpo scan` as a user runs it: the installed console script in a subprocess, real videos.

The job row is read back from the data dir with a JobStore of our own (a second process's view),
so the tests check what the scan recorded, not only what it printed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.support.daemon import VPO_EXECUTABLE, free_port, wait_until
from tests.support.media import (
    MediaCache,
    build_library,
    build_many,
    fresh_scan_summary,
    write_corrupt_video,
)
from tests.support.probe_hold import HeldProbe
from tests.support.small_disk import fill, small_disk
from vpo.client import VpoClient
from vpo.store import JobQuery, JobStore

# Permission bits do not stop root: as root, the scan runs without the two capabilities that let
# it ignore them (dropped from the bounding set before exec), so a chmod 000 file or directory is
# truly unreadable to it. (Switching to another user would not do: the checkout and its venv may
# live where only root can reach them.) As any other user the scan runs as that user.
NO_PERMISSION_BYPASS = (
    ("setpriv", "--bounding-set=-dac_override,-dac_read_search") if os.geteuid() == 0 else ()
)


def scan_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """No VPO_* settings from the developer's shell; plain output. The daemon URL is a port
    nobody listens on, so a foreground scan runs in-process unless a test names a daemon (one
    that happens to run on the default port must not take the scans of these tests)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VPO_")}
    env["NO_COLOR"] = "1"
    env["VPO_URL"] = f"http://127.0.0.1:{free_port()}"
    env.update(extra or {})
    return env


def run_scan(*args: str, prefix: tuple[str, ...] = (), timeout: float = 120):
    return subprocess.run(
        [*prefix, str(VPO_EXECUTABLE), "scan", *map(str, args)],
        env=scan_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def only_job(data_dir: Path):
    with JobStore(data_dir) as store:
        jobs, total = store.list_jobs(JobQuery())
    assert total == 1
    return jobs[0]


def assert_one_line_error(result, code: int | None = None) -> str:
    assert result.returncode != 0, result
    if code is not None:
        assert result.returncode == code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


def test_foreground_scan_prints_json_and_records_a_completed_job(sample_library, tmp_path):
    data_dir = tmp_path / "data"
    result = run_scan(sample_library.root, "--json", "--data-dir", data_dir)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    body = json.loads(result.stdout)
    assert body["status"] == "completed"
    assert body["progress_percent"] == 100
    assert body["summary_raw"] == fresh_scan_summary(5)
    assert body["errors"] == [] and body["errors_total"] == 0
    job = only_job(data_dir)
    assert (job.id, job.status, job.job_type) == (body["id"], "completed", "scan")
    assert job.params["paths"] == [str(sample_library.root)]
    with JobStore(data_dir) as store:
        record = store.get_file(str(sample_library.path("tv/Show/S01E02.mkv")))
    assert [s.language for s in record.streams if s.codec_type == "audio"] == ["eng", "jpn"]


def test_foreground_scan_prints_a_summary_and_rescans_incrementally(sample_library, tmp_path):
    data_dir = tmp_path / "data"
    first = run_scan(sample_library.root, "--data-dir", data_dir)
    assert first.returncode == 0, first.stderr
    assert "Scan completed" in first.stdout
    assert "Found 5 files: 5 scanned (5 new)" in first.stdout
    second = run_scan(sample_library.root, "--data-dir", data_dir)
    assert second.returncode == 0, second.stderr
    assert "0 scanned (0 new), 5 unchanged" in second.stdout


def test_file_errors_are_listed_and_the_scan_still_completes(sample_library, tmp_path):
    corrupt = write_corrupt_video(sample_library.root / "movies/broken.mkv")
    result = run_scan(sample_library.root, "--json", "--data-dir", tmp_path / "data")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["status"] == "completed"
    assert body["summary_raw"]["errors"] == 1
    assert body["errors_total"] == 1
    (error,) = body["errors"]
    assert error["path"] == str(corrupt)
    assert "Invalid data found" in error["message"]


def a_plain_file(tmp: Path) -> Path:
    target = tmp / "a-file.mkv"
    target.write_bytes(b"x")
    return target


@pytest.mark.parametrize(
    "make_target",
    [
        pytest.param(lambda tmp: tmp / "does-not-exist", id="missing"),
        pytest.param(a_plain_file, id="file"),
    ],
)
def test_bad_path_is_one_line_error_and_no_job_row(make_target, sample_library, tmp_path):
    data_dir = tmp_path / "data"
    bad = make_target(tmp_path)
    # A good path next to the bad one must not start a half-done job either.
    result = run_scan(sample_library.root, bad, "--data-dir", data_dir)
    line = assert_one_line_error(result, code=2)
    assert str(bad) in line
    assert result.stdout == ""
    assert not (data_dir / "vpo.db").exists()


def test_a_full_data_disk_is_a_one_line_error(sample_library, tmp_path):
    with small_disk(tmp_path / "disk") as disk:
        data_dir = disk / "vpo"
        JobStore(data_dir).close()
        filler = fill(disk)
        result = run_scan(sample_library.root, "--data-dir", data_dir)
        line = assert_one_line_error(result, 1)
        assert "is full" in line, line
        filler.unlink()
        # Nothing half written: the same scan works once there is room.
        assert run_scan(sample_library.root, "--data-dir", data_dir).returncode == 0
        assert only_job(data_dir).status == "completed"


def test_sigint_ends_a_foreground_scan_cancelled(tmp_path, media_cache):
    library = build_many(tmp_path / "lib", media_cache, 150)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    # Two probes at a time, one of them held (SIGSTOP): the other probes the rest, and the scan
    # cannot end before the interrupt however fast the files go.
    (data_dir / "config.toml").write_text("[jobs]\nprobe_concurrency = 2\n")
    process = subprocess.Popen(
        [str(VPO_EXECUTABLE), "scan", str(library.root), "--data-dir", str(data_dir)],
        env=scan_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    held = None
    try:
        held = HeldProbe(process.pid)
        # The log file appears only after the job row is committed (the runner opens it).
        wait_until(lambda: list((data_dir / "logs").glob("*.log")), timeout=30)
        with JobStore(data_dir) as store:

            def probing_job():
                jobs, _ = store.list_jobs(JobQuery())
                job = jobs[0] if jobs else None
                return job if job and job.phase == "probe" and job.processed_count > 0 else None

            running = wait_until(probing_job, timeout=30)
            assert running.status == "running"
            process.send_signal(signal.SIGINT)
            stdout, stderr = process.communicate(timeout=30)
            final = store.get_job(running.id)
    finally:
        if held is not None:
            held.release()
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "Scan cancelled" in stdout
    assert final.status == "cancelled"
    assert final.completed_at is not None
    assert 0 < final.processed_count < 150
    assert final.total_count == 150


@pytest.fixture
def shared_dirs(tmp_path: Path) -> tuple[Path, Path]:
    """A library and a data dir for the permission tests."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    return tmp_path / "library", data_dir


def test_unreadable_file_is_an_error_and_the_rest_completes(shared_dirs, media_cache: MediaCache):
    library_root, data_dir = shared_dirs
    library = build_library(
        library_root,
        media_cache,
        {"show/E01.mkv": "mkv_eng", "show/E02.mkv": "mp4_fra", "show/E03.mkv": "mkv_eng"},
    )
    locked = library.path("show/E02.mkv")  # a copy, not a link to the cache
    locked.chmod(0o000)
    result = run_scan(library_root, "--json", "--data-dir", data_dir, prefix=NO_PERMISSION_BYPASS)
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["status"] == "completed"
    assert (body["summary_raw"]["found"], body["summary_raw"]["errors"]) == (3, 1)
    (error,) = body["errors"]
    assert error["path"] == str(locked)
    assert "ermission denied" in error["message"]
    with JobStore(data_dir) as store:
        assert store.get_file(str(locked)).scan_status == "error"
        assert store.get_file(str(library.path("show/E01.mkv"))).scan_status == "ok"
        assert store.get_file(str(library.path("show/E03.mkv"))).scan_status == "ok"


def test_async_with_the_daemon_down_says_how_to_start_it(sample_library):
    url = f"http://127.0.0.1:{free_port()}"
    result = run_scan(sample_library.root, "--async", "--url", url)
    line = assert_one_line_error(result, code=1)
    assert url in line
    assert "vpo serve" in line


def test_async_submits_to_the_daemon_and_prints_the_job_id(daemon, sample_library):
    roots = (sample_library.root / "tv", sample_library.root / "movies")
    result = run_scan(*roots, "--async", "--url", daemon.url)
    assert result.returncode == 0, result.stderr
    ids = result.stdout.split()
    assert len(ids) == 2
    assert all(str(uuid.UUID(job_id)) == job_id for job_id in ids)
    with VpoClient(daemon.url) as client:

        def finished(job_id: str):
            job = client.get_job(job_id).data
            return job if job["status"] in ("completed", "failed", "cancelled") else None

        tv, movies = (wait_until(lambda j=job_id: finished(j), timeout=60) for job_id in ids)
    assert tv["status"] == movies["status"] == "completed"
    assert tv["file_path"] == str(sample_library.root / "tv")
    assert tv["summary_raw"]["found"] == 3
    assert movies["summary_raw"]["found"] == 1


def test_files_under_a_directory_that_became_unreadable_are_not_marked_missing(
    shared_dirs, media_cache: MediaCache
):
    library_root, data_dir = shared_dirs
    library = build_library(
        library_root, media_cache, {"a/E01.mkv": "mkv_eng", "b/E02.mkv": "mkv_eng"}
    )
    prefix = NO_PERMISSION_BYPASS
    first = run_scan(library_root, "--json", "--data-dir", data_dir, prefix=prefix)
    assert first.returncode == 0, first.stderr
    (library_root / "b").chmod(0o000)
    try:
        again = run_scan(library_root, "--json", "--data-dir", data_dir, prefix=prefix)
    finally:
        (library_root / "b").chmod(0o755)
    assert again.returncode == 0, again.stderr
    body = json.loads(again.stdout)
    assert (body["summary_raw"]["errors"], body["summary_raw"]["removed"]) == (1, 0)
    with JobStore(data_dir) as store:
        assert store.get_file(str(library.path("b/E02.mkv"))).scan_status == "ok"


# --- foreground scans through a running daemon -----------------------------------------------


def finished_in(daemon, job_id: str) -> dict:
    with VpoClient(daemon.url) as client:
        return client.get_job(job_id).value()


def test_foreground_scan_goes_to_a_running_daemon(daemon, sample_library, tmp_path):
    local_dir = tmp_path / "local-data"
    result = run_scan(sample_library.root, "--url", daemon.url, "--data-dir", local_dir)
    assert result.returncode == 0, result.stderr
    assert "Scan completed" in result.stdout
    assert "Found 5 files: 5 scanned (5 new)" in result.stdout
    assert f"in the daemon at {daemon.url}" in result.stderr
    job_id = result.stdout.split("Job ")[-1].strip()
    assert finished_in(daemon, job_id)["status"] == "completed"
    # Written where the daemon looks, and nowhere else.
    assert not (local_dir / "vpo.db").exists()


def test_json_is_the_same_shape_through_the_daemon_and_locally(daemon, sample_library, tmp_path):
    corrupt = write_corrupt_video(sample_library.root / "movies/broken.mkv")
    remote = run_scan(sample_library.root, "--json", "--url", daemon.url)
    local = run_scan(sample_library.root, "--json", "--local", "--data-dir", tmp_path / "data")
    assert remote.returncode == local.returncode == 0, (remote.stderr, local.stderr)
    remote_body, local_body = json.loads(remote.stdout), json.loads(local.stdout)
    assert set(remote_body) == set(local_body)
    for body in (remote_body, local_body):
        assert body["status"] == "completed" and body["errors_total"] == 1
        assert body["errors_count"] == 1
        assert [error["path"] for error in body["errors"]] == [str(corrupt)]
    assert remote.stderr == ""  # --json: nothing but the JSON, and no progress on a pipe


def test_a_missing_path_exits_2_with_and_without_async(daemon, tmp_path):
    missing = tmp_path / "does-not-exist"
    codes = {}
    for mode in ("--async", "--json"):
        result = run_scan(missing, mode, "--url", daemon.url)
        line = assert_one_line_error(result)
        assert str(missing) in line
        codes[mode] = result.returncode
    local = run_scan(missing, "--local", "--data-dir", tmp_path / "data")
    assert_one_line_error(local)
    assert codes == {"--async": 2, "--json": 2} and local.returncode == 2


def test_local_warns_when_the_daemon_keeps_another_data_dir(daemon, tmp_path):
    target = tmp_path / "empty"
    target.mkdir()
    elsewhere = run_scan(target, "--local", "--url", daemon.url, "--data-dir", tmp_path / "mine")
    assert elsewhere.returncode == 0, elsewhere.stderr
    assert f"Warning: the daemon at {daemon.url} uses another data dir" in elsewhere.stderr
    # The daemon's own data dir: the same database, no warning.
    same = run_scan(target, "--local", "--url", daemon.url, "--data-dir", daemon.data_dir)
    assert same.returncode == 0, same.stderr
    assert "Warning" not in same.stderr


def test_ctrl_c_detaches_and_says_how_to_cancel(daemon, media_cache, tmp_path):
    library = build_many(tmp_path / "lib", media_cache, 30)
    process = subprocess.Popen(
        [str(VPO_EXECUTABLE), "scan", str(library.root), "--url", daemon.url],
        env=scan_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # The daemon's scan is held at a probe, so it cannot end before the interrupt.
    with HeldProbe(daemon.pid):
        with VpoClient(daemon.url) as client:
            job = wait_until(lambda: client.list_jobs().value().jobs, timeout=30)[0]
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=30)
        assert process.returncode == 130, err
        assert f"vpo jobs cancel {job['id']}" in err
        assert "Traceback" not in err
        # Detached, not cancelled: the scan goes on in the daemon.
        assert finished_in(daemon, job["id"])["status"] == "running"
    wait_until(lambda: finished_in(daemon, job["id"])["status"] == "completed", timeout=60)
