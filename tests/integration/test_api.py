"""The HTTP API (docs/design.md §6) of a real `vpo serve` subprocess, over real HTTP.

Jobs in known states are seeded straight into the daemon's SQLite file with a JobStore from this
process (the way a foreground `vpo scan` shares the database): seeded jobs are created `running`
and owned by this live test process, so the daemon's worker never takes them, then finished.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from tests.support.daemon import DaemonProcess, wait_until
from tests.support.ffprobe_only import ffprobe_only_env
from tests.support.media import MediaCache, build_library, build_many, write_corrupt_video
from vpo.joblog import JobLog
from vpo.jobs import CANCELLED, COMPLETED, FAILED, RUNNING, Job, utc_now
from vpo.store import JobStore

TOKEN = "test-token-0123456789abcdef"
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"

LIST_FIELDS = {
    "id", "id_short", "job_type", "status", "priority", "file_path", "file_path_is_utf8",
    "created_at", "started_at",
    "completed_at", "progress_percent", "phase", "processed_count", "total_count",
    "duration_seconds", "error_message", "attempts",
}  # fmt: skip
DETAIL_FIELDS = LIST_FIELDS | {"summary", "summary_raw", "has_logs", "errors_count", "retry_of"}


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    """One daemon for the read-mostly tests of this module (each test uses its own paths)."""
    with DaemonProcess(tmp_path_factory.mktemp("api")) as proc:
        yield proc


@pytest.fixture(scope="module")
def store(daemon: DaemonProcess) -> Iterator[JobStore]:
    job_store = JobStore(daemon.data_dir)
    yield job_store
    job_store.close()


@pytest.fixture
def http(daemon: DaemonProcess) -> Iterator[httpx.Client]:
    with daemon.client() as client:
        yield client


def seed(store: JobStore, path: str, status: str = COMPLETED, **create: object) -> Job:
    """A job in `status`, never touched by the daemon's worker (see module docstring)."""
    job = store.create_job("scan", path, status=RUNNING, **create)  # type: ignore[arg-type]
    if status == RUNNING:
        return job
    return store.finish_job(job.id, status, error_message="boom" if status == FAILED else None)


def assert_error(response: httpx.Response, status: int, code: str, parameter: str | None = None):
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error", "code", "details"}
    assert body["code"] == code
    assert isinstance(body["error"], str) and body["error"]
    assert "Traceback" not in response.text
    if parameter is not None:
        assert body["details"]["parameter"] == parameter
    return body


# -- health ----------------------------------------------------------------------------------


def test_health_fields(http: httpx.Client) -> None:
    response = http.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "status", "version", "uptime_seconds", "database", "jobs_queued", "jobs_running",
        "store_id",
    }  # fmt: skip
    assert body["status"] == "ok" and body["database"] == "ok"
    assert isinstance(body["uptime_seconds"], int) and body["uptime_seconds"] >= 0
    assert isinstance(body["jobs_queued"], int) and isinstance(body["jobs_running"], int)


# -- submitting and following a scan ---------------------------------------------------------


def test_scan_is_queued_runs_and_completes(
    http: httpx.Client, tmp_path: Path, media_cache: MediaCache
) -> None:
    library = build_library(tmp_path / "lib", media_cache)
    write_corrupt_video(library.root / "tv" / "broken.mkv")

    response = http.post("/api/jobs", json={"job_type": "scan", "path": str(library.root)})
    assert response.status_code == 201, response.text
    job = response.json()
    assert set(job) == DETAIL_FIELDS
    assert job["status"] == "queued" and job["job_type"] == "scan"
    assert job["file_path"] == str(library.root)
    assert response.headers["Location"] == f"/api/jobs/{job['id']}"

    listed = http.get("/api/jobs", params={"id_prefix": job["id_short"]}).json()
    assert [item["id"] for item in listed["jobs"]] == [job["id"]]
    assert set(listed["jobs"][0]) == LIST_FIELDS

    def finished() -> dict | None:
        detail = http.get(f"/api/jobs/{job['id']}").json()
        return detail if detail["status"] in ("completed", "failed", "cancelled") else None

    done = wait_until(finished, timeout=60)
    assert done["status"] == "completed", done
    assert done["progress_percent"] == 100
    assert done["attempts"] == 1
    assert done["has_logs"] is True
    assert done["started_at"] and done["completed_at"]
    assert isinstance(done["duration_seconds"], int)
    raw = done["summary_raw"]
    assert raw["found"] == 6 and raw["errors"] == 1
    assert "6 files" in done["summary"]

    logs = http.get(f"/api/jobs/{job['id']}/logs").json()
    assert logs["job_id"] == job["id"] and logs["offset"] == 0
    assert logs["total_lines"] == len(logs["lines"]) > 0
    assert logs["has_more"] is False
    tail = http.get(f"/api/jobs/{job['id']}/logs", params={"lines": 1, "offset": 1}).json()
    assert tail["lines"] == logs["lines"][1:2]
    assert tail["has_more"] is (logs["total_lines"] > 2)

    errors = http.get(f"/api/jobs/{job['id']}/errors").json()
    assert errors["total"] == 1 and errors["limit"] == 50 and errors["offset"] == 0
    assert errors["errors"][0]["path"].endswith("broken.mkv")
    assert set(errors["errors"][0]) == {"path", "path_is_utf8", "message", "created_at"}
    empty_page = http.get(f"/api/jobs/{job['id']}/errors", params={"offset": 1}).json()
    assert empty_page["errors"] == [] and empty_page["total"] == 1


def test_submit_with_full_flag_and_trailing_slash(http: httpx.Client, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    response = http.post(
        "/api/jobs", json={"job_type": "scan", "path": f"{tmp_path}/empty/", "full": True}
    )
    assert response.status_code == 201
    assert response.json()["file_path"] == f"{tmp_path}/empty"


@pytest.mark.parametrize(
    ("body", "parameter"),
    [
        ({"job_type": "scan"}, "path"),
        ({"job_type": "scan", "path": "/nonexistent/vpo-test"}, "path"),
        ({"job_type": "scan", "path": "relative/dir"}, "path"),
        ({"job_type": "transcode", "path": "/tmp"}, "job_type"),
        ({"path": "/tmp"}, "job_type"),
        ({"job_type": "scan", "path": "/tmp", "full": "no"}, "full"),
        ({"job_type": "scan", "path": "/tmp", "extra": 1}, "extra"),
        ([1, 2], "body"),
    ],
)
def test_submit_rejects_bad_bodies(http: httpx.Client, body: object, parameter: str) -> None:
    assert_error(http.post("/api/jobs", json=body), 400, "INVALID_PARAMETER", parameter)


def test_submit_rejects_a_file_as_path(http: httpx.Client, tmp_path: Path) -> None:
    file = tmp_path / "movie.mkv"
    file.write_bytes(b"x")
    body = assert_error(
        http.post("/api/jobs", json={"job_type": "scan", "path": str(file)}),
        400,
        "INVALID_PARAMETER",
        "path",
    )
    assert "not a directory" in body["error"]


def test_submit_rejects_invalid_json(http: httpx.Client) -> None:
    response = http.post(
        "/api/jobs", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert_error(response, 400, "INVALID_JSON", "body")


def test_post_must_be_json(http: httpx.Client) -> None:
    response = http.post("/api/jobs", data={"job_type": "scan", "path": "/tmp"})
    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    # A body without a JSON Content-Type; an empty one without any is a plain cancel (the body
    # is optional: test_http_errors.py).
    response = http.post(f"/api/jobs/{UNKNOWN_ID}/cancel", content=b"{}")
    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_cross_origin_post_is_forbidden(http: httpx.Client, daemon: DaemonProcess, tmp_path):
    body = {"job_type": "scan", "path": str(tmp_path)}
    response = http.post("/api/jobs", json=body, headers={"Origin": "http://evil.example"})
    assert_error(response, 403, "FORBIDDEN")
    same_origin = http.post("/api/jobs", json=body, headers={"Origin": daemon.url})
    assert same_origin.status_code == 201
    # Behind a TLS proxy the browser's origin is https:// while the daemon speaks plain HTTP.
    host = daemon.url.removeprefix("http://")
    proxied = http.post("/api/jobs", json=body, headers={"Origin": f"https://{host}"})
    assert proxied.status_code == 201
    for foreign in (f"https://evil.example:{daemon.port}", "null", f"ftp://{host}"):
        response = http.post("/api/jobs", json=body, headers={"Origin": foreign})
        assert_error(response, 403, "FORBIDDEN")


def test_foreign_host_header_is_forbidden_without_token(http: httpx.Client) -> None:
    # A page on another site that resolves its own name to 127.0.0.1 (DNS rebinding).
    response = http.get("/api/jobs", headers={"Host": "evil.example:8321"})
    assert_error(response, 403, "FORBIDDEN")
    assert http.get("/api/jobs", headers={"Host": "localhost:8321"}).status_code == 200


def test_oversized_body_is_413(http: httpx.Client) -> None:
    body = json.dumps({"job_type": "scan", "path": "/" + "a" * 200_000}).encode()
    response = http.post("/api/jobs", content=body, headers={"Content-Type": "application/json"})
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")


# -- listing ---------------------------------------------------------------------------------


def test_filters_sort_and_paging(http: httpx.Client, store: JobStore, tmp_path: Path) -> None:
    base = str(tmp_path / "sorting")
    now = utc_now()
    paths = ["c", "a", "b", "a", "d"]
    statuses = [COMPLETED, FAILED, COMPLETED, CANCELLED, COMPLETED]
    ages = [timedelta(days=10), timedelta(hours=1), timedelta(hours=2), timedelta(hours=3),
            timedelta(days=40)]  # fmt: skip
    jobs = [
        seed(store, f"{base}/{path}", status, created_at=now - age)
        for path, status, age in zip(paths, statuses, ages, strict=True)
    ]

    def ids(**params: object) -> list[str]:
        response = http.get("/api/jobs", params={"search": base, **params})
        assert response.status_code == 200, response.text
        return [job["id"] for job in response.json()["jobs"]]

    by_created_desc = sorted(jobs, key=lambda job: job.created_at, reverse=True)
    assert ids() == [job.id for job in by_created_desc]
    assert ids(order="asc") == [job.id for job in reversed(by_created_desc)]

    # Ties on file_path are broken by id in the same direction: stable across polls.
    expected = sorted(jobs, key=lambda job: (job.file_path, job.id))
    assert ids(sort="file_path", order="asc") == [job.id for job in expected]
    assert ids(sort="file_path", order="desc") == [job.id for job in reversed(expected)]
    assert ids(sort="status", order="asc")[0] in {jobs[3].id}  # cancelled sorts first

    assert set(ids(status="completed")) == {jobs[0].id, jobs[2].id, jobs[4].id}
    assert ids(status="failed") == [jobs[1].id]
    assert set(ids(since="24h")) == {jobs[1].id, jobs[2].id, jobs[3].id}
    assert set(ids(since="30d")) == {job.id for job in jobs[:4]}
    # Every seeded job is a scan; an unknown type is a 400 (test_http_errors.py).
    assert set(ids(type="scan")) == {job.id for job in jobs}

    page = http.get("/api/jobs", params={"search": base, "limit": 2, "offset": 1}).json()
    assert page["total"] == 5 and page["limit"] == 2 and page["offset"] == 1
    assert page["has_filters"] is True
    assert [job["id"] for job in page["jobs"]] == [job.id for job in by_created_desc[1:3]]

    prefix = jobs[0].id[:8]
    assert ids(id_prefix=prefix.upper()) == [jobs[0].id]


def test_unfiltered_list_says_so(http: httpx.Client) -> None:
    body = http.get("/api/jobs", params={"limit": 1}).json()
    assert body["has_filters"] is False and body["limit"] == 1 and len(body["jobs"]) <= 1


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"status": "done"}, "status"),
        ({"since": "2w"}, "since"),
        ({"sort": "id"}, "sort"),
        ({"order": "sideways"}, "order"),
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"id_prefix": "zz"}, "id_prefix"),
        ({"page": "2"}, "page"),
    ],
)
def test_list_rejects_bad_parameters(http: httpx.Client, params: dict, parameter: str) -> None:
    assert_error(http.get("/api/jobs", params=params), 400, "INVALID_PARAMETER", parameter)


def test_list_rejects_repeated_parameter(http: httpx.Client) -> None:
    response = http.get("/api/jobs?status=failed&status=queued")
    assert_error(response, 400, "INVALID_PARAMETER", "status")


# -- one job ---------------------------------------------------------------------------------


def test_job_detail_and_id_errors(http: httpx.Client, store: JobStore, tmp_path: Path) -> None:
    job = seed(store, str(tmp_path), FAILED)
    detail = http.get(f"/api/jobs/{job.id}").json()
    assert set(detail) == DETAIL_FIELDS
    assert detail["status"] == "failed" and detail["error_message"] == "boom"
    assert detail["id_short"] == job.id[:8]

    for suffix in ("", "/logs", "/errors"):
        assert_error(http.get(f"/api/jobs/not-a-uuid{suffix}"), 400, "INVALID_ID_FORMAT")
        body = assert_error(http.get(f"/api/jobs/{UNKNOWN_ID}{suffix}"), 404, "NOT_FOUND")
        assert UNKNOWN_ID in body["error"]
    assert_error(http.post("/api/jobs/nope/cancel", json={}), 400, "INVALID_ID_FORMAT")
    assert_error(http.post(f"/api/jobs/{UNKNOWN_ID}/cancel", json={}), 404, "NOT_FOUND")
    assert_error(
        http.get(f"/api/jobs/{job.id}/logs", params={"lines": 0}), 400, "INVALID_PARAMETER", "lines"
    )
    assert_error(
        http.get(f"/api/jobs/{job.id}/errors", params={"limit": 500}),
        400,
        "INVALID_PARAMETER",
        "limit",
    )
    assert_error(http.get(f"/api/jobs/{job.id}", params={"x": 1}), 400, "INVALID_PARAMETER", "x")


def test_cancel_of_a_terminal_job_is_409(http: httpx.Client, store: JobStore, tmp_path) -> None:
    job = seed(store, str(tmp_path), COMPLETED)
    body = assert_error(http.post(f"/api/jobs/{job.id}/cancel", json={}), 409, "ALREADY_TERMINAL")
    assert body["details"]["status"] == "completed"
    bad = http.post(f"/api/jobs/{job.id}/cancel", json={"force": True})
    assert_error(bad, 400, "INVALID_PARAMETER", "force")


def test_cancel_of_a_seeded_running_job_sets_the_flag(
    http: httpx.Client, store: JobStore, tmp_path: Path
) -> None:
    job = seed(store, str(tmp_path), RUNNING)
    response = http.post(f"/api/jobs/{job.id}/cancel", json={})
    assert response.status_code == 200
    assert response.json()["status"] == "running"  # stops at its next file boundary
    assert store.cancel_requested(job.id)
    store.finish_job(job.id, CANCELLED)


# -- routing errors --------------------------------------------------------------------------


def test_unknown_api_route_is_404_envelope(http: httpx.Client) -> None:
    body = assert_error(http.get("/api/nothing/here"), 404, "NOT_FOUND")
    assert body["details"]["path"] == "/api/nothing/here"


def test_wrong_method_is_405_envelope(http: httpx.Client) -> None:
    response = http.delete("/api/jobs")
    body = assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert "GET" in response.headers["Allow"] and "POST" in response.headers["Allow"]
    assert body["details"]["method"] == "DELETE"


# -- ETags -----------------------------------------------------------------------------------


def _second_changes(http: httpx.Client, first_date: str) -> bool:
    return http.get("/health").headers["Date"] != first_date


def test_list_tag_is_stable_while_nothing_changes(daemon_factory, tmp_path: Path) -> None:
    # A daemon of its own: no other test's job may write while this one expects quiet.
    quiet = daemon_factory().start()
    with quiet.client() as http, JobStore(quiet.data_dir) as store:
        seed(store, str(tmp_path / "stable"), COMPLETED)
        params = {"search": str(tmp_path / "stable")}
        first = http.get("/api/jobs", params=params)
        assert first.headers["Cache-Control"] == "no-cache"
        tag = first.headers["ETag"]
        assert tag.startswith('"') and not tag.startswith("W/")
        # Across a change of second, too: no running job, so nothing depends on the clock.
        date = first.headers["Date"]
        wait_until(lambda: _second_changes(http, date), timeout=3)
        again = http.get("/api/jobs", params=params)
        assert again.headers["ETag"] == tag and again.content == first.content
        not_modified = http.get("/api/jobs", params=params, headers={"If-None-Match": tag})
        assert not_modified.status_code == 304
        assert not_modified.content == b""
        assert not_modified.headers["ETag"] == tag
        # Answered from the response cache: no query, no serialisation.
        assert not_modified.headers["X-Cache"] == "HIT"

        # A new matching job changes the response, so the tag, so the 304 becomes a 200.
        seed(store, str(tmp_path / "stable" / "more"), COMPLETED)
        changed = http.get("/api/jobs", params=params, headers={"If-None-Match": tag})
        assert changed.status_code == 200 and changed.json()["total"] == 2
        assert changed.headers["ETag"] != tag
        assert changed.headers["X-Cache"] == "MISS"


def test_detail_tag_changes_after_a_progress_update(
    http: httpx.Client, store: JobStore, tmp_path: Path
) -> None:
    job = seed(store, str(tmp_path), RUNNING)
    first = http.get(f"/api/jobs/{job.id}")
    tag = first.headers["ETag"]
    assert first.json()["processed_count"] == 0
    store.update_progress(job.id, phase="probe", processed=3, total=10, percent=30.0)
    after = http.get(f"/api/jobs/{job.id}", headers={"If-None-Match": tag})
    assert after.status_code == 200
    assert after.json()["processed_count"] == 3 and after.json()["progress_percent"] == 30.0
    assert after.headers["ETag"] != tag
    repeat = http.get(f"/api/jobs/{job.id}", headers={"If-None-Match": after.headers["ETag"]})
    # Same second: 304; a new second may change duration_seconds, and with it the body.
    if repeat.status_code == 200:
        assert repeat.json()["duration_seconds"] != after.json()["duration_seconds"]
    else:
        assert repeat.status_code == 304
    store.finish_job(job.id, COMPLETED)
    final = http.get(f"/api/jobs/{job.id}")
    assert final.json()["status"] == "completed"
    final_tag = final.headers["ETag"]
    assert http.get(f"/api/jobs/{job.id}", headers={"If-None-Match": final_tag}).status_code == 304


def test_log_tag_changes_when_a_line_is_written(
    http: httpx.Client, store: JobStore, tmp_path: Path
) -> None:
    job = seed(store, str(tmp_path), COMPLETED)
    url = f"/api/jobs/{job.id}/logs"
    empty = http.get(url)
    assert empty.json()["lines"] == [] and empty.json()["total_lines"] == 0
    tag = empty.headers["ETag"]
    assert http.get(url, headers={"If-None-Match": tag}).status_code == 304
    with JobLog(store.logs_dir, job.id) as log:
        log.info("hello")
    after = http.get(url, headers={"If-None-Match": tag})
    assert after.status_code == 200
    assert after.json()["total_lines"] == 1 and after.json()["lines"][0].endswith("hello")
    assert after.headers["ETag"] != tag


def test_polling_config_with_etag(http: httpx.Client) -> None:
    response = http.get("/api/config/polling")
    assert response.json() == {"interval_ms": 5000, "log_interval_ms": 15000, "enabled": True}
    tag = response.headers["ETag"]
    assert response.headers["Cache-Control"] == "no-cache"
    assert http.get("/api/config/polling", headers={"If-None-Match": tag}).status_code == 304
    assert http.get("/api/config/polling", headers={"If-None-Match": '"stale"'}).status_code == 200


# -- auth ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    proc = DaemonProcess(tmp_path_factory.mktemp("auth"), token=TOKEN)
    proc.start()
    yield proc
    proc.stop()
    proc.kill()


def test_token_is_required_except_for_health(secured: DaemonProcess) -> None:
    with secured.client(authenticated=False) as anonymous:
        assert anonymous.get("/health").status_code == 200
        for path in ("/api/jobs", "/api/config/polling", "/api/openapi.json", "/api/nothing"):
            response = anonymous.get(path)
            assert_error(response, 401, "UNAUTHORIZED")
            assert response.headers["WWW-Authenticate"].startswith('Basic realm="vpo"')
        wrong = anonymous.get("/api/jobs", headers={"Authorization": "Bearer wrong-token"})
        assert_error(wrong, 401, "UNAUTHORIZED")
        garbage = anonymous.get("/api/jobs", headers={"Authorization": "Basic !!!"})
        assert_error(garbage, 401, "UNAUTHORIZED")
        post = anonymous.post("/api/jobs", json={"job_type": "scan", "path": "/tmp"})
        assert_error(post, 401, "UNAUTHORIZED")


def test_bearer_and_basic_tokens_are_accepted(secured: DaemonProcess) -> None:
    with secured.client() as bearer:
        assert bearer.get("/api/jobs").status_code == 200
    basic = base64.b64encode(f"anyone:{TOKEN}".encode()).decode()
    with secured.client(authenticated=False) as browser:
        response = browser.get("/api/jobs", headers={"Authorization": f"Basic {basic}"})
        assert response.status_code == 200
        # With a token, any Host may be used (the daemon may sit behind a name on the LAN).
        named = browser.get(
            "/api/jobs", headers={"Authorization": f"Basic {basic}", "Host": "nas.lan:8321"}
        )
        assert named.status_code == 200


def test_authenticated_cross_origin_post_is_still_forbidden(
    secured: DaemonProcess, tmp_path: Path
) -> None:
    with secured.client() as client:
        response = client.post(
            "/api/jobs",
            json={"job_type": "scan", "path": str(tmp_path)},
            headers={"Origin": "http://evil.example"},
        )
        assert_error(response, 403, "FORBIDDEN")


# -- cancelling real jobs --------------------------------------------------------------------


def test_cancel_a_queued_and_a_running_scan(
    daemon_factory, tmp_path: Path, media_cache: MediaCache
) -> None:
    # Many real videos probed one at a time by ffprobe (a process per file; PyAV would finish
    # them in a fraction of a second): the scan runs for seconds, far longer than the
    # sub-second reactions waited for here (see test_daemon_lifecycle.py).
    library = build_many(tmp_path / "many", media_cache, 300)
    daemon = daemon_factory(
        config={"jobs": {"probe_concurrency": 1}}, env=ffprobe_only_env(tmp_path)
    ).start()
    with daemon.client() as http:
        body = {"job_type": "scan", "path": str(library.root)}
        running_id = http.post("/api/jobs", json=body).json()["id"]
        # The worker runs one job at a time, so this one waits behind the first.
        queued_id = http.post("/api/jobs", json=body).json()["id"]

        def running() -> bool:
            state = http.get(f"/api/jobs/{running_id}").json()
            return state["status"] == "running" and state["processed_count"] > 0

        wait_until(running, timeout=30)
        assert http.get(f"/api/jobs/{queued_id}").json()["status"] == "queued"

        cancelled = http.post(f"/api/jobs/{queued_id}/cancel", json={})
        assert cancelled.status_code == 200
        assert cancelled.json()["status"] == "cancelled"
        assert cancelled.json()["completed_at"] is not None

        requested = http.post(f"/api/jobs/{running_id}/cancel", json={})
        assert requested.status_code == 200
        assert requested.json()["status"] == "running"

        def ended() -> dict | None:
            state = http.get(f"/api/jobs/{running_id}").json()
            return state if state["status"] != "running" else None

        final = wait_until(ended, timeout=10)
        assert final["status"] == "cancelled"
        assert final["processed_count"] < 300
        assert final["progress_percent"] is None or final["progress_percent"] < 100
        again = http.post(f"/api/jobs/{running_id}/cancel", json={})
        assert_error(again, 409, "ALREADY_TERMINAL")
        # The queued one never ran.
        assert http.get(f"/api/jobs/{queued_id}").json()["attempts"] == 0


# -- unexpected failures ---------------------------------------------------------------------


def test_a_corrupt_row_is_a_500_envelope_without_traceback(daemon_factory, tmp_path: Path) -> None:
    daemon = daemon_factory().start()
    with JobStore(daemon.data_dir) as store:
        job = seed(store, str(tmp_path / "corrupt"), COMPLETED)
    # Damage the row behind the store's back, as a disk error or a manual edit would.
    db = sqlite3.connect(daemon.data_dir / "vpo.db")
    with db:
        db.execute("UPDATE jobs SET summary_raw = '{not json' WHERE id = ?", (job.id,))
    db.close()
    with daemon.client() as http:
        response = http.get(f"/api/jobs/{job.id}")
        body = assert_error(response, 500, "INTERNAL_ERROR")
        assert "daemon log" in body["error"]
        assert "JSONDecodeError" not in response.text
        # The list reads no summary, so the damage does not take every page down with it.
        listed = http.get("/api/jobs")
        assert listed.status_code == 200
        assert [item["id"] for item in listed.json()["jobs"]] == [job.id]
        assert http.get("/health").status_code == 200
    assert f"unhandled error in GET /api/jobs/{job.id}" in daemon.stderr_text()
    assert "Traceback" in daemon.stderr_text()  # the details go to the log instead
