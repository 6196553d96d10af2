"""The API client's pure parts: request building, answer parsing, error mapping, settings.

The I/O half (sending over httpx) is exercised against the real daemon in
tests/integration/test_cli_jobs.py; here only plain values go in and out, plus two real
connection attempts to a closed loopback port for the "daemon down" message.
"""

from __future__ import annotations

import asyncio
import json
import socket

import pytest

from vpo.client import (
    ApiError,
    AsyncVpoClient,
    DaemonUnreachable,
    InvalidUrl,
    JobListParams,
    JobPage,
    LogPage,
    VpoClient,
    VpoError,
    browse_call,
    cancel_job_call,
    choose_prefix_match,
    get_job_call,
    get_logs_call,
    health_call,
    interpret_response,
    is_full_job_id,
    job_path,
    list_jobs_call,
    normalise_job_ref,
    prefix_lookup_call,
    query_params,
    retry_job_call,
    roots_call,
    stats_call,
    submit_scan_call,
)
from vpo.client_settings import DEFAULT_URL, client_settings, normalise_base_url, url_from_bind

BASE = "http://127.0.0.1:8321"
JOB_ID = "1a2b3c4d-0000-4000-8000-000000000001"


def as_body(value: object) -> bytes:
    return json.dumps(value).encode()


def page_body(jobs: list[dict], total: int | None = None) -> bytes:
    return as_body(
        {
            "jobs": jobs,
            "total": len(jobs) if total is None else total,
            "limit": 50,
            "offset": 0,
            "has_filters": False,
        }
    )


# --- request building --------------------------------------------------------------------------


def test_query_params_never_fail_on_bytes_that_are_not_utf8():
    # `vpo jobs list --search $'\xff'`: argv holds the byte as a surrogate, a URL cannot.
    assert query_params(search="Am\udce9") == {"search": "Am\\xe9"}


def test_submit_sends_a_name_that_is_not_utf8_escaped_and_flagged():
    assert submit_scan_call("/lib/Am\udce9lie").json_body == {
        "job_type": "scan",
        "path": "/lib/Am\\xe9lie",
        "path_is_utf8": False,
        "full": False,
    }
    assert "path_is_utf8" not in submit_scan_call("/lib/tv").json_body


def test_query_params_drop_unset_values_and_spell_booleans_lower_case():
    assert query_params(a=None, b=3, c=True, d=False, e="x y") == {
        "b": "3",
        "c": "true",
        "d": "false",
        "e": "x y",
    }


def test_list_jobs_call_maps_job_type_to_the_type_parameter():
    params = JobListParams(status="failed", job_type="scan", since="24h", limit=10, offset=20)
    call = list_jobs_call(params)
    assert (call.method, call.path) == ("GET", "/api/jobs")
    assert call.params == {
        "status": "failed",
        "type": "scan",
        "since": "24h",
        "limit": "10",
        "offset": "20",
    }
    assert list_jobs_call().params == {}


def test_conditional_calls_send_if_none_match_only_with_an_etag():
    assert "If-None-Match" not in get_job_call(JOB_ID).headers()
    assert get_job_call(JOB_ID, etag='"abc"').headers()["If-None-Match"] == '"abc"'
    assert get_logs_call(JOB_ID, etag='"t"').headers()["If-None-Match"] == '"t"'


def test_job_paths_keep_the_id_inside_its_segment():
    assert job_path(JOB_ID) == f"/api/jobs/{JOB_ID}"
    assert job_path("../health", "/logs") == "/api/jobs/..%2Fhealth/logs"
    assert get_logs_call(JOB_ID, lines=20, offset=5).params == {"lines": "20", "offset": "5"}
    assert cancel_job_call(JOB_ID).path == f"/api/jobs/{JOB_ID}/cancel"
    assert cancel_job_call(JOB_ID).method == "POST"


def test_submit_scan_sends_the_contract_body():
    call = submit_scan_call("/media/tv", full=True)
    assert (call.method, call.path) == ("POST", "/api/jobs")
    assert call.json_body == {"job_type": "scan", "path": "/media/tv", "full": True}


# --- answers ---------------------------------------------------------------------------------


def test_a_job_page_is_parsed_into_a_typed_page_with_its_etag():
    job = {"id": JOB_ID, "status": "running", "job_type": "future-type", "new_field": 1}
    result = interpret_response(
        list_jobs_call(), 200, {"etag": '"v1"'}, page_body([job], total=7), base_url=BASE
    )
    assert result.not_modified is False
    assert result.etag == '"v1"'
    assert result.data == JobPage(jobs=[job], total=7, limit=50, offset=0, has_filters=False)


def test_a_log_page_is_parsed():
    body = as_body(
        {"job_id": JOB_ID, "lines": ["a", "b"], "total_lines": 9, "offset": 2, "has_more": True}
    )
    result = interpret_response(get_logs_call(JOB_ID), 200, {}, body, base_url=BASE)
    assert result.data == LogPage(
        job_id=JOB_ID, lines=["a", "b"], total_lines=9, offset=2, has_more=True
    )


def test_304_is_not_modified_with_no_data_and_the_same_tag():
    call = get_job_call(JOB_ID, etag='"v7"')
    result = interpret_response(call, 304, {}, b"", base_url=BASE)
    assert (result.data, result.etag, result.not_modified) == (None, '"v7"', True)
    # A 304 that repeats the tag gives that tag.
    result = interpret_response(call, 304, {"etag": '"v7"'}, b"", base_url=BASE)
    assert result.etag == '"v7"'


def test_the_poll_interval_hint_is_read_from_200s_and_304s():
    assert (
        interpret_response(get_job_call(JOB_ID), 200, {}, b"{}", base_url=BASE).poll_interval_ms
        is None
    )
    answered = interpret_response(
        get_job_call(JOB_ID), 200, {"X-Poll-Interval": "20000"}, b"{}", base_url=BASE
    )
    unchanged = interpret_response(
        get_job_call(JOB_ID, etag='"v7"'), 304, {"X-Poll-Interval": "5000"}, b"", base_url=BASE
    )
    garbled = interpret_response(
        get_job_call(JOB_ID), 200, {"X-Poll-Interval": "soon"}, b"{}", base_url=BASE
    )
    assert (answered.poll_interval_ms, unchanged.poll_interval_ms) == (20000, 5000)
    assert garbled.poll_interval_ms is None


def test_value_is_the_data_and_a_304_where_data_was_expected_is_an_api_error():
    body = as_body({"id": JOB_ID})
    assert interpret_response(get_job_call(JOB_ID), 200, {}, body, base_url=BASE).value() == {
        "id": JOB_ID
    }
    unchanged = interpret_response(get_job_call(JOB_ID, etag='"v7"'), 304, {}, b"", base_url=BASE)
    with pytest.raises(ApiError) as caught:
        unchanged.value()
    assert (caught.value.status, caught.value.code) == (304, "NOT_MODIFIED")


def test_the_error_envelope_becomes_an_api_error():
    body = as_body(
        {"error": "status must be one of ...", "code": "INVALID_PARAMETER", "details": {"p": 1}}
    )
    with pytest.raises(ApiError) as caught:
        interpret_response(list_jobs_call(), 400, {}, body, base_url=BASE)
    error = caught.value
    assert (error.status, error.code, error.message) == (
        400,
        "INVALID_PARAMETER",
        "status must be one of ...",
    )
    assert error.details == {"p": 1}
    assert str(error) == "status must be one of ..."


def test_a_non_json_error_body_still_gives_a_readable_one_line_error():
    body = b"<html>\n<h1>502 Bad Gateway</h1>\n</html>"
    with pytest.raises(ApiError) as caught:
        interpret_response(list_jobs_call(), 502, {}, body, base_url=BASE, reason="Bad Gateway")
    error = caught.value
    assert (error.status, error.code) == (502, "HTTP_502")
    assert error.message.startswith("HTTP 502 Bad Gateway: <html>")
    assert "\n" not in error.message
    with pytest.raises(ApiError, match=r"^HTTP 500$"):
        interpret_response(list_jobs_call(), 500, {}, b"", base_url=BASE)


def test_401_says_how_to_pass_a_token():
    body = as_body({"error": "authentication required", "code": "UNAUTHORIZED"})
    with pytest.raises(ApiError) as caught:
        interpret_response(list_jobs_call(), 401, {}, body, base_url=BASE, token_sent=False)
    assert caught.value.status == 401
    assert "--token" in caught.value.message and "VPO_TOKEN" in caught.value.message
    assert BASE in caught.value.message
    with pytest.raises(ApiError, match="rejected the token"):
        interpret_response(list_jobs_call(), 401, {}, body, base_url=BASE, token_sent=True)


def test_a_2xx_answer_of_the_wrong_shape_is_an_api_error_not_a_crash():
    with pytest.raises(ApiError) as caught:
        interpret_response(list_jobs_call(), 200, {}, as_body({"jobs": 3}), base_url=BASE)
    assert caught.value.code == "INVALID_RESPONSE"
    with pytest.raises(ApiError, match=r"^unexpected answer from"):
        interpret_response(get_job_call(JOB_ID), 200, {}, b"not json", base_url=BASE)


def test_health_503_is_an_api_error_carrying_the_health_fields():
    body = as_body(
        {
            "error": "The daemon is shutting down.",
            "code": "SHUTTING_DOWN",
            "details": {"status": "shutting_down"},
        }
    )
    with pytest.raises(ApiError) as caught:
        interpret_response(health_call(), 503, {}, body, base_url=BASE)
    assert (caught.value.status, caught.value.code) == (503, "SHUTTING_DOWN")
    assert caught.value.details == {"status": "shutting_down"}


# --- short ids -------------------------------------------------------------------------------


def test_job_refs_are_lower_cased_and_validated():
    assert normalise_job_ref(" 1A2B3C4D ") == "1a2b3c4d"
    assert is_full_job_id(normalise_job_ref(JOB_ID.upper()))
    assert not is_full_job_id("1a2b3c4d")
    for bad in ("", "xyz", "1a2b 3c", JOB_ID + "0"):
        with pytest.raises(ApiError) as caught:
            normalise_job_ref(bad)
        assert caught.value.code == "INVALID_ID_FORMAT"


def test_prefix_lookup_asks_for_two_rows_by_prefix():
    assert prefix_lookup_call("1a2b").params == {"id_prefix": "1a2b", "limit": "2"}


def test_a_prefix_resolves_only_when_exactly_one_job_matches():
    one = JobPage(jobs=[{"id": JOB_ID}], total=1, limit=2, offset=0, has_filters=True)
    assert choose_prefix_match("1a2b", one) == JOB_ID
    none = JobPage(jobs=[], total=0, limit=2, offset=0, has_filters=True)
    with pytest.raises(ApiError, match="no job matches '1a2b'"):
        choose_prefix_match("1a2b", none)
    several = JobPage(jobs=[{"id": "a"}, {"id": "b"}], total=5, limit=2, offset=0, has_filters=1)
    with pytest.raises(ApiError, match="ambiguous, matches 5 jobs"):
        choose_prefix_match("1", several)


# --- where the daemon is ---------------------------------------------------------------------


def test_url_precedence_flag_then_env_then_config_then_default():
    server = {"bind": "192.168.1.5", "port": 9000, "auth_token": "from-config-token"}
    env = {"VPO_URL": "http://env:1", "VPO_TOKEN": "from-env"}
    assert client_settings("http://flag:2", "t-flag", env, config_server=server) == (
        "http://flag:2",
        "t-flag",
    )
    assert client_settings(None, None, env, config_server=server) == ("http://env:1", "from-env")
    assert client_settings(None, None, {}, config_server=server) == (
        "http://192.168.1.5:9000",
        "from-config-token",
    )
    assert client_settings(None, None, {}, config_server={}) == (DEFAULT_URL, None)


def test_an_empty_environment_value_counts_as_unset():
    assert client_settings(None, None, {"VPO_URL": "", "VPO_TOKEN": ""}, config_server={}) == (
        DEFAULT_URL,
        None,
    )


def test_the_config_file_is_read_from_the_data_dir(tmp_path):
    (tmp_path / "config.toml").write_text(
        '[server]\nbind = "0.0.0.0"\nport = 8400\nauth_token = "sixteen-chars-tok"\n'
    )
    env = {"VPO_DATA_DIR": str(tmp_path)}
    assert client_settings(None, None, env) == ("http://127.0.0.1:8400", "sixteen-chars-tok")
    # Flags still win over the file.
    assert client_settings("h:1", "t", env) == ("http://h:1", "t")


def test_a_broken_or_missing_config_file_means_defaults(tmp_path):
    assert client_settings(None, None, {"VPO_DATA_DIR": str(tmp_path)}) == (DEFAULT_URL, None)
    (tmp_path / "config.toml").write_text("[server\nport = ")
    assert client_settings(None, None, {"VPO_DATA_DIR": str(tmp_path)}) == (DEFAULT_URL, None)


def test_the_daemons_own_environment_and_config_path_are_honoured(tmp_path):
    """A shell that started `vpo serve` with VPO_PORT/VPO_CONFIG finds it with no options."""
    config = tmp_path / "elsewhere.toml"
    config.write_text('[server]\nauth_token = "token-from-elsewhere"\n')
    env = {"VPO_DATA_DIR": str(tmp_path / "none"), "VPO_PORT": "8555", "VPO_CONFIG": str(config)}
    assert client_settings(None, None, env) == ("http://127.0.0.1:8555", "token-from-elsewhere")
    # VPO_URL / VPO_TOKEN are the client's own and win over the daemon's settings.
    env |= {"VPO_URL": "http://other:1", "VPO_TOKEN": "t2"}
    assert client_settings(None, None, env) == ("http://other:1", "t2")


def test_wildcard_and_ipv6_binds_become_reachable_urls():
    assert url_from_bind("0.0.0.0", 8321) == "http://127.0.0.1:8321"
    assert url_from_bind("::", 8321) == "http://[::1]:8321"
    assert url_from_bind("fe80::1", 80) == "http://[fe80::1]:80"
    assert url_from_bind(None, None) == DEFAULT_URL
    assert normalise_base_url("nas.local:8321/") == "http://nas.local:8321"
    assert normalise_base_url("https://vpo.example/") == "https://vpo.example"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://nas", "must start with http:// or https://"),
        ("http://", "no valid host name"),
        ("http://a b", "no valid host name"),
        ("http://[x", "no valid host name"),
        ("http://127.0.0.1:99999", "port 99999 is not between 1 and 65535"),
        (":::", "Invalid port"),
    ],
)
def test_urls_that_cannot_name_a_daemon_are_refused_before_any_request(url, reason):
    with pytest.raises(InvalidUrl) as caught:
        normalise_base_url(url)
    assert reason in str(caught.value) and repr(url) in str(caught.value)
    assert isinstance(caught.value, VpoError)
    with pytest.raises(InvalidUrl):
        client_settings(url, None, {}, config_server={})


def test_valid_urls_keep_their_host_port_and_path():
    assert normalise_base_url("http://[::1]:8321/") == "http://[::1]:8321"
    assert normalise_base_url(" https://nas.example/vpo// ") == "https://nas.example/vpo"
    assert normalise_base_url("127.0.0.1") == "http://127.0.0.1"


# --- the daemon is down (real connection attempts to a closed loopback port) ------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_sync_client_names_the_url_and_how_to_start_the_daemon():
    url = f"http://127.0.0.1:{closed_port()}"
    with VpoClient(url) as client, pytest.raises(DaemonUnreachable) as caught:
        client.list_jobs()
    assert caught.value.url == url
    assert str(caught.value) == (
        f"cannot reach the VPO daemon at {url} (connection refused); start it with `vpo serve`"
    )


def test_async_client_gives_the_same_message():
    url = f"http://127.0.0.1:{closed_port()}"

    async def attempt() -> DaemonUnreachable:
        async with AsyncVpoClient(url) as client:
            try:
                await client.get_job(JOB_ID)
            except DaemonUnreachable as exc:
                return exc
        raise AssertionError("no error raised")

    error = asyncio.run(attempt())
    assert "(connection refused)" in str(error)
    assert error.url == url


def test_the_calls_of_retry_stats_roots_and_browse():
    retry = retry_job_call("3f1c2a9e-5b7d-4c1e-9a0f-2b6d8e4c1a77")
    assert (retry.method, retry.path, retry.json_body) == (
        "POST",
        "/api/jobs/3f1c2a9e-5b7d-4c1e-9a0f-2b6d8e4c1a77/retry",
        {},
    )
    assert stats_call(etag='"x"').headers()["If-None-Match"] == '"x"'
    assert (roots_call().method, roots_call().path) == ("GET", "/api/roots")
    assert browse_call("/srv/media").params == {"path": "/srv/media"}
    # A name that is not UTF-8 goes escaped and flagged, as the API answers it.
    assert browse_call("/srv/Am\udce9lie", limit=10, offset=20).params == {
        "path": "/srv/Am\\xe9lie",
        "path_is_utf8": "false",
        "limit": "10",
        "offset": "20",
    }
