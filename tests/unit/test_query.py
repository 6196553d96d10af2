"""The API's query-parameter and body rules (vpo/server/query.py), with plain values."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vpo.server.query import (
    MAX_JSON_DEPTH,
    SINCE_PATTERN,
    BrowseQuery,
    JsonBodyError,
    QueryError,
    has_filters,
    is_job_id,
    json_nesting_depth,
    parse_browse_query,
    parse_errors_query,
    parse_job_query,
    parse_json_body,
    parse_log_query,
    parse_no_parameters,
    parse_submission,
)
from vpo.store import JobQuery

NOW = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)


def parse(**params: str) -> JobQuery:
    return parse_job_query(list(params.items()), NOW)


def rejected(pairs: list[tuple[str, str]]) -> QueryError:
    with pytest.raises(QueryError) as info:
        parse_job_query(pairs, NOW)
    return info.value


def test_defaults_without_parameters() -> None:
    query = parse()
    assert query == JobQuery(sort="created_at", order="desc", limit=50, offset=0)
    assert not has_filters(query)


def test_every_parameter_is_carried_over() -> None:
    query = parse(
        status="failed",
        type="scan",
        since="7d",
        search="/tv",
        sort="duration",
        order="asc",
        limit="100",
        offset="20",
        id_prefix="ABCD12",
    )
    assert query == JobQuery(
        status="failed",
        job_type="scan",
        since=NOW - timedelta(days=7),
        search="/tv",
        id_prefix="abcd12",
        sort="duration",
        order="asc",
        limit=100,
        offset=20,
    )
    assert has_filters(query)


@pytest.mark.parametrize(
    ("since", "window"),
    [("24h", timedelta(hours=24)), ("7d", timedelta(days=7)), ("30d", timedelta(days=30)),
     ("1h", timedelta(hours=1)), ("3650d", timedelta(days=3650))],
)  # fmt: skip
def test_since_windows(since: str, window: timedelta) -> None:
    assert parse(since=since).since == NOW - window


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("status", "done"),
        ("status", ""),
        ("status", "FAILED"),
        ("type", "Scan!"),
        ("type", ""),
        ("since", "24"),
        ("since", "0d"),
        ("since", "2w"),
        ("since", "-1d"),
        ("since", "3651d"),
        ("since", "99999h"),
        ("sort", "id"),
        ("sort", "created_at; drop table jobs"),
        ("order", "up"),
        ("limit", "0"),
        ("limit", "101"),
        ("limit", "ten"),
        ("limit", "5.0"),
        ("limit", " 5"),
        ("limit", "-1"),
        ("limit", ""),
        ("offset", "-1"),
        ("offset", "1e3"),
        ("offset", "99999999999999999999"),
        ("id_prefix", "xyz"),
        ("id_prefix", "a" * 37),
        ("id_prefix", ""),
        ("search", "x" * 501),
    ],
)
def test_bad_values_name_the_parameter(name: str, value: str) -> None:
    error = rejected([(name, value)])
    assert error.parameter == name
    assert name in error.message


def test_unknown_parameter_is_rejected_by_name() -> None:
    error = rejected([("stauts", "failed")])
    assert error.parameter == "stauts"
    assert "Unknown parameter" in error.message


def test_repeated_parameter_is_rejected() -> None:
    error = rejected([("status", "failed"), ("status", "queued")])
    assert error.parameter == "status"
    assert "more than once" in error.message


def test_empty_search_means_no_search() -> None:
    assert parse(search="").search is None


def test_equal_requests_give_equal_hashable_queries() -> None:
    # The query is the response-cache key: the same meaning must give the same key.
    first = parse_job_query([("limit", "050"), ("status", "failed")], NOW)
    second = parse_job_query([("status", "failed"), ("limit", "50")], NOW)
    assert first == second
    assert hash(first) == hash(second)


def test_log_query_defaults_and_bounds() -> None:
    page = parse_log_query([])
    assert (page.limit, page.offset) == (500, 0)
    page = parse_log_query([("lines", "1000"), ("offset", "7")])
    assert (page.limit, page.offset) == (1000, 7)
    for pairs, name in (
        ([("lines", "0")], "lines"),
        ([("lines", "1001")], "lines"),
        ([("offset", "-3")], "offset"),
        ([("limit", "5")], "limit"),  # logs page by `lines`, not `limit`
    ):
        with pytest.raises(QueryError) as info:
            parse_log_query(pairs)
        assert info.value.parameter == name


def test_errors_query_defaults_and_bounds() -> None:
    assert parse_errors_query([]).limit == 50
    with pytest.raises(QueryError) as info:
        parse_errors_query([("limit", "101")])
    assert info.value.parameter == "limit"


def test_endpoints_without_parameters_reject_any() -> None:
    parse_no_parameters([])
    with pytest.raises(QueryError) as info:
        parse_no_parameters([("verbose", "1")])
    assert info.value.parameter == "verbose"


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("3f1c2a9e-5b7d-4c1e-9a0f-2b6d8e4c1a77", True),
        ("3F1C2A9E-5B7D-4C1E-9A0F-2B6D8E4C1A77", False),
        ("3f1c2a9e", False),
        ("3f1c2a9e5b7d4c1e9a0f2b6d8e4c1a77", False),
        ("../../etc/passwd", False),
        ("", False),
    ],
)
def test_job_ids_are_canonical_uuids(text: str, valid: bool) -> None:
    assert is_job_id(text) is valid


def test_submission_accepts_a_scan() -> None:
    submission = parse_submission({"job_type": "scan", "path": "/media/tv", "full": True})
    assert (submission.job_type, submission.path, submission.full) == ("scan", "/media/tv", True)
    assert parse_submission({"job_type": "scan", "path": "/media"}).full is False


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([], "body"),
        ("scan", "body"),
        (None, "body"),
        ({"path": "/media"}, "job_type"),
        ({"job_type": "transcode", "path": "/media"}, "job_type"),
        ({"job_type": "scan"}, "path"),
        ({"job_type": "scan", "path": ""}, "path"),
        ({"job_type": "scan", "path": 5}, "path"),
        ({"job_type": "scan", "path": "media/tv"}, "path"),
        ({"job_type": "scan", "path": "/a\x00b"}, "path"),
        ({"job_type": "scan", "path": "/media", "full": "yes"}, "full"),
        ({"job_type": "scan", "path": "/media", "priority": 1}, "priority"),
    ],
)
def test_submission_errors_name_the_field(body: object, field: str) -> None:
    with pytest.raises(QueryError) as info:
        parse_submission(body)
    assert info.value.parameter == field


# -- `since`: the published pattern, the parser and the cap agree ------------------------------


def since_is_valid(text: str) -> bool:
    """The rule, stated independently: 1-87600 hours or 1-3650 days, no leading zero."""
    if len(text) < 2 or text[-1] not in "hd" or not text[:-1].isdigit() or text[0] == "0":
        return False
    return int(text[:-1]) <= (87600 if text[-1] == "h" else 3650) and text[:-1].isascii()


def parser_accepts_since(text: str) -> bool:
    try:
        parse(since=text)
    except QueryError:
        return False
    return True


def test_since_pattern_matches_exactly_what_the_server_accepts() -> None:
    published = re.compile(SINCE_PATTERN)
    for unit, cap in (("h", 87600), ("d", 3650)):
        for number in range(0, cap + 1100):
            text = f"{number}{unit}"
            expected = 1 <= number <= cap
            assert bool(published.fullmatch(text)) is expected, text
            assert parser_accepts_since(text) is expected, text
        assert parse(since=f"{cap}{unit}").since == NOW - timedelta(days=3650)
    for text in ("07d", "024h", "1w", "1 d", "d", "1d1", "\uff13d", "24h\n"):
        assert not published.fullmatch(text) and not parser_accepts_since(text), text


@given(st.text(alphabet="0123456789hdw \n", max_size=7))
def test_since_agrees_with_the_rule_for_any_text(text: str) -> None:
    assert parser_accepts_since(text) is since_is_valid(text)
    assert bool(re.compile(SINCE_PATTERN).fullmatch(text)) is since_is_valid(text)


# -- JSON bodies: a nesting cap before the recursive decoder --------------------------------


def test_deep_nesting_is_refused_before_parsing() -> None:
    at_cap = b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH
    assert parse_json_body(at_cap) == json.loads(at_cap)
    for depth in (MAX_JSON_DEPTH + 1, 3000, 100_000):
        with pytest.raises(JsonBodyError, match="nests deeper"):
            parse_json_body(b"[" * depth)
    with pytest.raises(JsonBodyError, match="nests deeper"):
        parse_json_body(b'{"a": ' * 40 + b"1" + b"}" * 40)


def test_brackets_inside_strings_do_not_count() -> None:
    text = json.dumps({"path": "[[[[{{{{" * 100, "quote": 'a\\"[[[', "nested": [[1]]})
    assert json_nesting_depth(text) == 3
    assert parse_json_body(text.encode())["nested"] == [[1]]


def test_empty_and_invalid_bodies() -> None:
    assert parse_json_body(b"") is None and parse_json_body(b"  \n") is None
    for raw in (b"{not json", b"\xff\xfe", b'{"a": 1'):
        with pytest.raises(JsonBodyError, match="not valid JSON"):
            parse_json_body(raw)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3)
    ),
    max_leaves=20,
)


@given(JSON_VALUES)
def test_any_shallow_json_value_parses_as_json_loads_would(value: object) -> None:
    text = json.dumps(value)
    assert json_nesting_depth(text) <= MAX_JSON_DEPTH
    assert parse_json_body(text.encode()) == json.loads(text)


def test_browse_query() -> None:
    assert parse_browse_query([("path", "/srv/media")]) == BrowseQuery("/srv/media", 100, 0)
    parsed = parse_browse_query(
        [("path", "/srv/Am\\xe9lie"), ("path_is_utf8", "false"), ("limit", "5"), ("offset", "2")]
    )
    assert parsed == BrowseQuery(os.fsdecode(b"/srv/Am\xe9lie"), 5, 2)
    for pairs, parameter in (
        ([], "path"),
        ([("path", "")], "path"),
        ([("path", "srv")], "path"),
        ([("path", "/a\x00b")], "path"),
        ([("path", "/a"), ("path_is_utf8", "no")], "path_is_utf8"),
        ([("path", "/a"), ("limit", "1001")], "limit"),
        ([("path", "/a"), ("sort", "name")], "sort"),
    ):
        with pytest.raises(QueryError) as caught:
            parse_browse_query(pairs)
        assert caught.value.parameter == parameter
