"""Hostile and broken requests get a 4xx JSON envelope and leave no traceback in the daemon log.

Most of these never reach a handler: aiohttp's HTTP parser rejects them before any middleware
runs, and it used to answer in text/plain (with the raw bytes echoed back). They are sent as raw
bytes over a socket to a real daemon, because no HTTP client library will send them.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator

import httpx
import pytest

from tests.support.daemon import DaemonProcess
from tests.support.rawhttp import RawResponse, exchange, request_bytes

UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
TOKEN = "http-errors-token-0123456789"


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    with DaemonProcess(tmp_path_factory.mktemp("http-errors")) as proc:
        yield proc


def assert_envelope(response: RawResponse, status: int, code: str) -> dict:
    assert response.status == status, response.body[:300]
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error", "code", "details"}
    assert body["code"] == code
    assert isinstance(body["error"], str) and body["error"]
    return body


def assert_no_traceback(daemon: DaemonProcess) -> None:
    log = daemon.stderr_text()
    assert "Traceback" not in log, log[-3000:]
    assert " ERROR " not in log, log[-3000:]


NESTED = b"[" * 3000
NOT_GZIP = b'{"job_type": "scan", "path": "/tmp"}'
JSON_TYPE = {"Content-Type": "application/json"}

MALFORMED = {
    "deeply nested JSON": (
        request_bytes("POST", "/api/jobs", JSON_TYPE, NESTED),
        400,
        "INVALID_JSON",
    ),
    "gzip that is not gzip": (
        request_bytes("POST", "/api/jobs", {**JSON_TYPE, "Content-Encoding": "gzip"}, NOT_GZIP),
        400,
        "MALFORMED_REQUEST",
    ),
    "request line over the limit": (
        request_bytes("GET", "/api/jobs?search=" + "a" * 9000),
        431,
        "HEADER_TOO_LARGE",
    ),
    "header over the limit": (
        request_bytes("GET", "/health", {"X-Padding": "a" * 9000}),
        431,
        "HEADER_TOO_LARGE",
    ),
    "too many headers": (
        request_bytes("GET", "/health", [(f"X-H{i}", "a") for i in range(200)]),
        431,
        "HEADER_TOO_LARGE",
    ),
    "unknown method": (request_bytes("BREW", "/api/jobs"), 400, "MALFORMED_REQUEST"),
    "raw space in the URL": (
        request_bytes("GET", b"/api/jobs?search=a b"),
        400,
        "MALFORMED_REQUEST",
    ),
    "non-ASCII bytes in the query": (
        request_bytes("GET", b"/api/jobs?search=\xff\xfe"),
        400,
        "MALFORMED_REQUEST",
    ),
    "non-ASCII bytes in the path": (
        request_bytes("GET", b"/api/jobs/\xc3\xa9"),
        400,
        "MALFORMED_REQUEST",
    ),
    "missing Host": (
        b"GET /health HTTP/1.1\r\nConnection: close\r\n\r\n",
        400,
        "MALFORMED_REQUEST",
    ),
    "duplicate Host": (
        request_bytes("GET", "/health", [("Host", "127.0.0.1"), ("Host", "evil.example")]),
        400,
        "MALFORMED_REQUEST",
    ),
    "Content-Length that is not a number": (
        request_bytes("POST", "/api/jobs", {**JSON_TYPE, "Content-Length": "abc"}),
        400,
        "MALFORMED_REQUEST",
    ),
    "TLS handshake on the HTTP port": (
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,
        400,
        "MALFORMED_REQUEST",
    ),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_request_is_a_4xx_envelope(daemon: DaemonProcess, case: str) -> None:
    raw, status, code = MALFORMED[case]
    body = assert_envelope(exchange(daemon.port, raw), status, code)
    # The answer names the problem without echoing the client's bytes back.
    assert "\\x" not in body["error"] and "aaaaaaaa" not in json.dumps(body)
    # The daemon is still fine, and logged no traceback for the client's mistake.
    with daemon.client() as http:
        assert http.get("/health").status_code == 200
    assert_no_traceback(daemon)


def test_real_gzip_body_is_still_accepted(daemon: DaemonProcess, tmp_path) -> None:
    body = gzip.compress(json.dumps({"job_type": "scan", "path": str(tmp_path)}).encode())
    raw = request_bytes("POST", "/api/jobs", {**JSON_TYPE, "Content-Encoding": "gzip"}, body)
    response = exchange(daemon.port, raw)
    assert response.status == 201, response.body


def test_shallow_nesting_is_a_normal_validation_error(daemon: DaemonProcess) -> None:
    # Nesting within the cap parses; the body is then just the wrong shape.
    with daemon.client() as http:
        response = http.post("/api/jobs", content=b"[" * 20 + b"]" * 20, headers=JSON_TYPE)
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_PARAMETER"
    assert response.json()["details"]["parameter"] == "body"


def test_unknown_job_type_filter_is_400_like_an_unknown_status(daemon: DaemonProcess) -> None:
    with daemon.client() as http:
        for params, parameter in (({"type": "bogus"}, "type"), ({"status": "bogus"}, "status")):
            response = http.get("/api/jobs", params=params)
            assert response.status_code == 400, response.text
            assert response.json()["code"] == "INVALID_PARAMETER"
            assert response.json()["details"]["parameter"] == parameter
        assert http.get("/api/jobs", params={"type": "scan"}).status_code == 200


def test_a_stored_job_of_a_newer_type_can_still_be_filtered(daemon_factory) -> None:
    # Job types are an open vocabulary: a type this version does not create but that a stored
    # job has (a newer tool shares the database) is a valid filter, not a 400.
    from vpo.store import JobStore

    daemon = daemon_factory().start()
    with JobStore(daemon.data_dir) as store:
        job = store.create_job("transcode", "/media/other")
    with daemon.client() as http:
        response = http.get("/api/jobs", params={"type": "transcode"})
        assert response.status_code == 200, response.text
        assert [item["id"] for item in response.json()["jobs"]] == [job.id]
        assert http.get("/api/jobs", params={"type": "move"}).status_code == 400


def test_body_less_cancel_is_accepted(daemon: DaemonProcess, tmp_path) -> None:
    with daemon.client() as http:
        job = http.post("/api/jobs", json={"job_type": "scan", "path": str(tmp_path)}).json()
        # No body and no Content-Type: the body is optional, so this is a plain cancel.
        response = http.post(f"/api/jobs/{job['id']}/cancel")
        assert response.status_code in (200, 409), response.text
        assert "content-type" not in {name.lower() for name in response.request.headers}
        unknown = http.post(f"/api/jobs/{UNKNOWN_ID}/cancel")
        assert unknown.status_code == 404 and unknown.json()["code"] == "NOT_FOUND"
        # A body that is not JSON is still refused, and so is a form's content type.
        form = http.post(
            f"/api/jobs/{UNKNOWN_ID}/cancel",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert form.status_code == 415 and form.json()["code"] == "UNSUPPORTED_MEDIA_TYPE"
        text = http.post(f"/api/jobs/{UNKNOWN_ID}/cancel", content=b"x")
        assert text.status_code == 415


@pytest.mark.parametrize(
    "path", ["/health", "/api/jobs/" + UNKNOWN_ID, "/api/config/polling", "/api/openapi.json"]
)
def test_post_to_a_read_only_route_is_405(daemon: DaemonProcess, path: str) -> None:
    with daemon.client() as http:
        for kwargs in ({}, {"content": b"x"}, {"json": {}}):
            response = http.post(path, **kwargs)
            assert response.status_code == 405, response.text
            assert response.json()["code"] == "METHOD_NOT_ALLOWED"
            assert "GET" in response.headers["Allow"]


def test_static_files_are_private_when_auth_is_on(daemon_factory) -> None:
    open_daemon = daemon_factory().start()
    secured = daemon_factory(token=TOKEN).start()
    with httpx.Client(base_url=open_daemon.url) as http:
        css = http.get("/static/css/vpo.css")
        assert css.status_code == 200
        assert css.headers["Cache-Control"] == "public, max-age=86400"
    with secured.client() as http:
        css = http.get("/static/css/vpo.css")
        assert css.status_code == 200
        # A shared cache (a proxy) must not keep what only a token holder may fetch.
        assert css.headers["Cache-Control"] == "private, max-age=86400"
