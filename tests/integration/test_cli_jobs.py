"""`vpo jobs` and the API client against a real `vpo serve` on a loopback port.

The CLI runs as a subprocess through the installed `vpo` console script, exactly as a user or a
cron script runs it; the daemon is found through VPO_URL. Jobs are real scans: a sample library
of real videos for jobs that complete, and a directory of many junk `.mkv` files for a job that
stays running until it is cancelled: the prober rejects each file, which the scan records as a
per-file error and goes on, and one probe is held (tests/support/probe_hold.py) so the scan
cannot end on its own however fast the files go.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.daemon import VPO_EXECUTABLE, DaemonProcess, wait_until
from tests.support.probe_hold import HeldProbe
from vpo.client import AsyncVpoClient, JobListParams, VpoClient
from vpo.store import JobStore

TERMINAL = {"completed", "failed", "cancelled"}
SLOW_FILES = 300
TOKEN = "integration-token-0123456789"
UUID_PATTERN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def cli_env(url: str | None, extra: dict[str, str] | None = None, data_dir: Path | None = None):
    """The environment of a CLI run: no VPO_* from the developer's shell, and a data dir of
    our own so no real ~/.vpo/config.toml is consulted."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VPO_")}
    if url is not None:
        env["VPO_URL"] = url
    env["VPO_DATA_DIR"] = str(data_dir) if data_dir else "/nonexistent-vpo-data-dir"
    env["NO_COLOR"] = "1"
    env["COLUMNS"] = "200"
    env.update(extra or {})
    return env


def run_vpo(
    *args: str, url: str | None, timeout: float = 60, **env_kwargs
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VPO_EXECUTABLE), *args],
        env=cli_env(url, **env_kwargs),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], code: int = 1) -> str:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture
def api(daemon: DaemonProcess):
    with VpoClient(daemon.url) as client:
        yield client


def make_slow_dir(root: Path, count: int = SLOW_FILES) -> Path:
    root.mkdir(parents=True)
    for index in range(count):
        (root / f"junk-{index:05d}.mkv").write_bytes(b"not a video %d\n" % index)
    return root


def job_status(api: VpoClient, job_id: str) -> str:
    return api.get_job(job_id).data["status"]


def wait_for_status(api: VpoClient, job_id: str, statuses: set[str], timeout: float = 60) -> str:
    return wait_until(
        lambda: (status := job_status(api, job_id)) in statuses and status,
        timeout=timeout,
        message=f"job {job_id} never reached {statuses}",
    )


@pytest.fixture
def running_slow_job(
    daemon: DaemonProcess, api: VpoClient, tmp_path: Path
) -> Iterator[Callable[[], str]]:
    """Start a scan that runs until cancelled (one of its probes held) and return its id once
    the daemon reports it running with a log line."""
    holds: list[HeldProbe] = []

    def start() -> str:
        slow = make_slow_dir(tmp_path / f"slow-{len(list(tmp_path.glob('slow-*')))}")
        job_id = api.submit_scan(str(slow))["id"]
        holds.append(HeldProbe(daemon.pid))
        wait_for_status(api, job_id, {"running"})
        wait_until(lambda: api.get_logs(job_id).data.total_lines > 0, timeout=30)
        return job_id

    yield start
    for held in holds:
        held.release()


# --- list / show / logs ----------------------------------------------------------------------


def test_list_show_and_logs_of_a_completed_scan(daemon, api, sample_library):
    job_id = api.submit_scan(str(sample_library.root))["id"]
    wait_for_status(api, job_id, TERMINAL)
    assert job_status(api, job_id) == "completed"
    short = job_id[:8]

    listed = run_vpo("jobs", "list", url=daemon.url)
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if line.startswith(short))
    assert "scan" in row and "completed" in row and "100%" in row
    # stdout holds the rows only (one per job, after the table's header); the count is on stderr.
    assert "of 1 jobs" not in listed.stdout
    assert listed.stderr.strip() == "1-1 of 1 jobs"

    as_json = run_vpo("jobs", "list", "--json", url=daemon.url)
    assert as_json.returncode == 0
    page = json.loads(as_json.stdout)
    assert page["total"] == 1 and page["jobs"][0]["id"] == job_id
    assert page["jobs"] == api.list_jobs().data.jobs

    filtered = run_vpo("jobs", "list", "--status", "failed", url=daemon.url)
    assert filtered.returncode == 0
    assert filtered.stdout.strip() == "no jobs match these filters"

    shown = run_vpo("jobs", "show", short, url=daemon.url)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[0] == f"job {job_id}"
    assert "completed" in shown.stdout and str(sample_library.root) in shown.stdout
    detail = json.loads(run_vpo("jobs", "show", short.upper(), "--json", url=daemon.url).stdout)
    assert detail["id"] == job_id and detail["summary_raw"]["found"] >= 1

    all_lines = api.get_logs(job_id, lines=1000).data.lines
    assert len(all_lines) >= 3
    logs = run_vpo("jobs", "logs", short, url=daemon.url)
    assert logs.returncode == 0
    assert logs.stdout.splitlines() == all_lines
    tail = run_vpo("jobs", "logs", short, "--lines", "2", url=daemon.url)
    assert tail.stdout.splitlines() == all_lines[-2:]


def test_bad_filters_get_the_daemons_message(daemon):
    result = run_vpo("jobs", "list", "--since", "5x", url=daemon.url)
    assert "since" in assert_one_line_error(result)
    result = run_vpo("jobs", "list", "--limit", "1000", url=daemon.url)
    assert "limit" in assert_one_line_error(result)


# --- short ids -------------------------------------------------------------------------------


def test_short_ids_resolve_only_when_unambiguous(daemon, api, tmp_path):
    target = tmp_path / "empty-library"
    target.mkdir()
    ids: list[str] = []
    shared: str | None = None
    # 17 ids always contain two with the same first hex digit; usually far fewer are needed.
    while shared is None:
        ids.append(api.submit_scan(str(target))["id"])
        firsts = [job_id[0] for job_id in ids]
        shared = next((c for c in firsts if firsts.count(c) > 1), None)
    matches = sum(job_id.startswith(shared) for job_id in ids)

    result = run_vpo("jobs", "show", shared, url=daemon.url)
    assert f"ambiguous, matches {matches} jobs" in assert_one_line_error(result)

    unused = next(p for p in ("00000000", "ffffffff", "12345678") if not any(
        job_id.startswith(p) for job_id in ids))  # fmt: skip
    result = run_vpo("jobs", "show", unused, url=daemon.url)
    assert f"no job matches '{unused}'" in assert_one_line_error(result)

    result = run_vpo("jobs", "show", "not-an-id!", url=daemon.url)
    assert "is not a job id" in assert_one_line_error(result)

    result = run_vpo("jobs", "show", ids[0], url=daemon.url)
    assert result.returncode == 0 and ids[0] in result.stdout


# --- cancel and wait -------------------------------------------------------------------------


def test_cancel_wait_and_errors_of_a_queued_and_a_running_job(daemon, api, running_slow_job,
                                                                sample_library):  # fmt: skip
    running = running_slow_job()
    queued = api.submit_scan(str(sample_library.root))["id"]
    assert job_status(api, queued) == "queued"  # the worker is busy with the slow scan

    timed_out = run_vpo("jobs", "wait", running[:8], "--timeout", "0.3", url=daemon.url)
    assert timed_out.returncode == 3, timed_out.stderr
    assert timed_out.stdout.startswith(f"timed out after 0.3s waiting for job {running[:8]}")
    assert "running" in timed_out.stdout

    cancelled = run_vpo("jobs", "cancel", queued[:8], url=daemon.url)
    assert cancelled.returncode == 0, cancelled.stderr
    assert cancelled.stdout.strip() == f"job {queued[:8]} cancelled"
    assert job_status(api, queued) == "cancelled"

    # Let the slow scan record a few per-file errors (junk files no prober can read).
    wait_until(lambda: api.get_errors(running, limit=1)["total"] >= 6, timeout=30)
    asked = run_vpo("jobs", "cancel", running, url=daemon.url)
    assert asked.returncode == 0, asked.stderr
    assert asked.stdout.startswith(f"cancel requested for job {running[:8]}")

    waited = run_vpo("jobs", "wait", running[:8], "--timeout", "30", url=daemon.url)
    assert waited.returncode == 2, (waited.stdout, waited.stderr)
    assert waited.stdout.startswith(f"job {running[:8]} cancelled")
    assert run_vpo("jobs", "wait", queued[:8], url=daemon.url).returncode == 2

    again = run_vpo("jobs", "cancel", running[:8], url=daemon.url)
    assert "already cancelled" in assert_one_line_error(again)

    errors = run_vpo("jobs", "errors", running[:8], "--limit", "5", url=daemon.url)
    assert errors.returncode == 0, errors.stderr
    page = api.get_errors(running, limit=5)
    assert errors.stdout.splitlines() == [f"{e['path']}: {e['message']}" for e in page["errors"]]
    assert errors.stderr.strip() == f"1-5 of {page['total']} errors"
    as_json = run_vpo("jobs", "errors", running, "--json", url=daemon.url)
    assert json.loads(as_json.stdout) == api.get_errors(running)
    none = run_vpo("jobs", "errors", queued, url=daemon.url)
    assert (none.returncode, none.stdout) == (0, "no errors\n")


def test_wait_exit_codes_for_completed_and_failed(daemon, api, running_slow_job, tmp_path,
                                                  sample_library):  # fmt: skip
    blocker = running_slow_job()
    # Queued behind the slow scan, the target vanishes before the worker gets to it.
    doomed_dir = tmp_path / "will-vanish"
    doomed_dir.mkdir()
    doomed = api.submit_scan(str(doomed_dir))["id"]
    good = api.submit_scan(str(sample_library.root))["id"]
    shutil.rmtree(doomed_dir)
    api.cancel_job(blocker)

    failed = run_vpo("jobs", "wait", doomed[:8], "--timeout", "60", url=daemon.url)
    assert failed.returncode == 1, (failed.stdout, failed.stderr)
    assert failed.stdout.startswith(f"job {doomed[:8]} failed")
    assert api.get_job(doomed).data["error_message"] in failed.stdout

    completed = run_vpo("jobs", "wait", good, "--timeout", "60", url=daemon.url)
    assert completed.returncode == 0, (completed.stdout, completed.stderr)
    assert completed.stdout.startswith(f"job {good[:8]} completed")


# --- logs --follow -----------------------------------------------------------------------------


def test_follow_prints_every_line_once_until_the_job_ends(daemon, api, running_slow_job, tmp_path):
    job_id = running_slow_job()
    stderr_path = tmp_path / "follow.stderr"
    with open(stderr_path, "w") as stderr_file:
        follow = subprocess.Popen(
            [str(VPO_EXECUTABLE), "jobs", "logs", job_id[:8], "--follow", "--interval", "0.2"],
            env=cli_env(daemon.url),
            stdout=subprocess.PIPE,
            stderr=stderr_file,
            text=True,
        )
    try:
        # One reader for the whole stream (communicate() would bypass readline's buffer).
        first_line = follow.stdout.readline()  # blocks until the follower printed something
        assert first_line.strip()
        api.cancel_job(job_id)
        rest = follow.stdout.read()  # until the follower exits and closes its stdout
        follow.wait(timeout=60)
    finally:
        if follow.poll() is None:
            follow.kill()
    assert follow.returncode == 0, stderr_path.read_text()
    printed = [first_line, *rest.splitlines()]
    printed[0] = printed[0].rstrip("\n")
    assert job_status(api, job_id) == "cancelled"
    log = api.get_logs(job_id, lines=1000)
    expected = log.data.lines
    while log.data.has_more:
        log = api.get_logs(job_id, lines=1000, offset=log.data.offset + len(log.data.lines))
        expected += log.data.lines
    # The final fetch after the job ended leaves nothing out and repeats nothing.
    assert printed == expected
    assert any("cancel" in line.lower() for line in printed[-3:])


def test_ctrl_c_stops_follow_with_130_and_no_traceback(daemon, running_slow_job):
    job_id = running_slow_job()
    follow = subprocess.Popen(
        [str(VPO_EXECUTABLE), "jobs", "logs", job_id, "--follow"],
        env=cli_env(daemon.url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert follow.stdout.readline().strip()
        follow.send_signal(signal.SIGINT)
        _, stderr = follow.communicate(timeout=30)
    finally:
        if follow.poll() is None:
            follow.kill()
    assert follow.returncode == 130
    assert "Traceback" not in stderr and "Aborted" not in stderr


# --- vpo scan --async ---------------------------------------------------------------------------


def test_scan_async_queues_a_job_that_jobs_list_and_wait_see(daemon, sample_library):
    submitted = run_vpo("scan", str(sample_library.root), "--async", url=daemon.url)
    assert submitted.returncode == 0, submitted.stderr
    job_id = submitted.stdout.strip()
    assert UUID_PATTERN.fullmatch(job_id), submitted.stdout

    listed = json.loads(run_vpo("jobs", "list", "--json", url=daemon.url).stdout)
    assert [job["id"] for job in listed["jobs"]] == [job_id]
    assert listed["jobs"][0]["file_path"] == str(sample_library.root)

    waited = run_vpo("jobs", "wait", job_id[:8], "--timeout", "60", url=daemon.url)
    assert waited.returncode == 0, (waited.stdout, waited.stderr)
    assert waited.stdout.startswith(f"job {job_id[:8]} completed")


def test_scan_async_with_the_daemon_down_names_the_url(tmp_path):
    url = closed_port_url()
    result = run_vpo("scan", str(tmp_path), "--async", url=url)
    line = assert_one_line_error(result)
    assert url in line and "vpo serve" in line


# --- daemon down, auth -------------------------------------------------------------------------


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.mark.parametrize(
    ("args", "code"),
    [(("jobs", "list"), 1), (("jobs", "show", "1a2b3c4d"), 1), (("jobs", "wait", "1a2b"), 4)],
)
def test_daemon_down_is_one_line_naming_the_url(args, code):
    url = closed_port_url()
    line = assert_one_line_error(run_vpo(*args, url=url), code)
    assert line == (
        f"Error: cannot reach the VPO daemon at {url} (connection refused); "
        "start it with `vpo serve`"
    )


def test_an_unknown_host_is_not_told_to_start_vpo_serve():
    """The name lookup fails for real: the command runs in a network namespace of its own with
    no interface up (root only), so no resolver can be reached and nothing leaves loopback."""
    if os.geteuid() != 0:
        pytest.skip("needs root for a network namespace")
    url = "http://vpo-daemon.example:8321"
    result = subprocess.run(
        ["unshare", "--net", str(VPO_EXECUTABLE), "jobs", "list"],
        env=cli_env(url),
        capture_output=True,
        text=True,
        timeout=60,
    )
    line = assert_one_line_error(result)
    assert line == (
        f"Error: cannot reach the VPO daemon at {url} (unknown host); "
        "check the host name in --url, VPO_URL or server.bind"
    )


def test_retry_prints_the_new_job_id(daemon, api, tmp_path):
    target = tmp_path / "empty"
    target.mkdir()
    first = api.submit_scan(str(target))["id"]
    wait_for_status(api, first, TERMINAL)
    result = run_vpo("jobs", "retry", first[:8], url=daemon.url)
    assert result.returncode == 0, result.stderr
    new_id = result.stdout.strip()
    assert str(uuid.UUID(new_id)) == new_id and new_id != first
    assert api.get_job(new_id).value()["retry_of"] == first
    as_json = run_vpo("jobs", "retry", first, "--json", url=daemon.url)
    assert json.loads(as_json.stdout)["retry_of"] == first
    # A running job (seeded, owned by this live test process) is refused: one line, exit 1.
    with JobStore(daemon.data_dir) as store:
        running = store.create_job("scan", str(target), status="running")
    line = assert_one_line_error(run_vpo("jobs", "retry", running.id, url=daemon.url))
    assert "only a job that ended" in line


def test_a_malformed_url_is_one_line_naming_it():
    line = assert_one_line_error(run_vpo("jobs", "list", url="http://127.0.0.1:99999"))
    assert line.startswith("Error: invalid daemon URL 'http://127.0.0.1:99999'")


def test_url_flag_beats_the_environment(daemon):
    result = run_vpo("jobs", "--url", daemon.url, "list", url=closed_port_url())
    assert result.returncode == 0, result.stderr


def test_token_from_flag_environment_or_config_file(daemon_factory):
    secured = daemon_factory(token=TOKEN).start()
    line = assert_one_line_error(run_vpo("jobs", "list", url=secured.url))
    assert "requires a token" in line and "--token" in line and "VPO_TOKEN" in line

    wrong = run_vpo("jobs", "--token", "wrong-token-0000000000", "list", url=secured.url)
    assert "rejected the token" in assert_one_line_error(wrong)

    assert run_vpo("jobs", "--token", TOKEN, "list", url=secured.url).returncode == 0
    assert run_vpo("jobs", "list", url=secured.url, extra={"VPO_TOKEN": TOKEN}).returncode == 0
    # The daemon's own config file (server.auth_token) is read through VPO_DATA_DIR.
    from_config = run_vpo("jobs", "list", url=secured.url, data_dir=secured.data_dir)
    assert from_config.returncode == 0, from_config.stderr
    # The flag wins over the config file.
    flagged = run_vpo("jobs", "--token", "x" * 20, "list", url=secured.url,
                      data_dir=secured.data_dir)  # fmt: skip
    assert "rejected the token" in assert_one_line_error(flagged)


# --- the client itself: ETags, sync and async --------------------------------------------------


def test_sync_client_etag_round_trip(daemon, api, tmp_path):
    first = api.list_jobs()
    assert first.etag and not first.not_modified and first.data.total == 0
    again = api.list_jobs(etag=first.etag)
    assert again.not_modified and again.data is None and again.etag == first.etag

    target = tmp_path / "lib"
    target.mkdir()
    job_id = api.submit_scan(str(target))["id"]
    changed = api.list_jobs(etag=first.etag)
    assert not changed.not_modified and changed.data.jobs[0]["id"] == job_id
    assert changed.etag != first.etag

    assert api.resolve_job_id(job_id[:8]) == job_id
    assert api.health()["status"] == "ok"
    assert set(api.polling_config()) >= {"interval_ms", "log_interval_ms", "enabled"}


def test_async_client_matches_the_sync_one(daemon, api, tmp_path):
    target = tmp_path / "lib"
    target.mkdir()
    job_id = api.submit_scan(str(target))["id"]
    wait_for_status(api, job_id, TERMINAL)

    async def exercise():
        async with AsyncVpoClient(daemon.url) as client:
            page = await client.list_jobs(JobListParams(limit=5))
            job = await client.get_job(job_id)
            unchanged = await client.get_job(job_id, etag=job.etag)
            logs = await client.get_logs(job_id, lines=2)
            resolved = await client.resolve_job_id(job_id[:6])
            return page, job, unchanged, logs, resolved

    page, job, unchanged, logs, resolved = asyncio.run(exercise())
    assert page.data == api.list_jobs(JobListParams(limit=5)).data
    assert job.data == api.get_job(job_id).data
    assert unchanged.not_modified and unchanged.etag == job.etag
    assert logs.data.lines == api.get_logs(job_id, lines=2).data.lines
    assert resolved == job_id
