"""Entity tags and the response cache (vpo/server/etag.py), with plain values."""

from __future__ import annotations

from vpo.server.etag import ENTRY_OVERHEAD_BYTES, ResponseCache, etag_for, if_none_match_matches


def test_tag_is_strong_and_follows_the_body() -> None:
    tag = etag_for(b'{"jobs":[]}')
    assert tag.startswith('"') and tag.endswith('"') and not tag.startswith("W/")
    assert etag_for(b'{"jobs":[]}') == tag
    assert etag_for(b'{"jobs":[1]}') != tag


def test_if_none_match_forms() -> None:
    tag = etag_for(b"x")
    assert if_none_match_matches(tag, tag)
    assert if_none_match_matches(f'"other", {tag}', tag)
    assert if_none_match_matches(f"W/{tag}", tag)  # weak comparison for If-None-Match
    assert if_none_match_matches("*", tag)
    assert not if_none_match_matches(None, tag)
    assert not if_none_match_matches("", tag)
    assert not if_none_match_matches('"other"', tag)
    assert not if_none_match_matches(tag.strip('"'), tag)  # an unquoted tag is another tag


def test_entry_is_served_while_the_version_holds() -> None:
    cache = ResponseCache()
    entry = cache.put("k", b"body", version=7, second=100, clock_dependent=False)
    assert cache.get("k", 7, 100) is entry
    # Not clock dependent: a later second changes nothing.
    assert cache.get("k", 7, 5000) is entry
    assert cache.get("k", 8, 5000) is None
    assert len(cache) == 0  # a stale entry is dropped


def test_clock_dependent_entry_lives_one_second() -> None:
    cache = ResponseCache()
    entry = cache.put("k", b"running", version=1, second=100, clock_dependent=True)
    assert cache.get("k", 1, 100) is entry
    assert cache.get("k", 1, 101) is None


def test_versions_may_be_tuples() -> None:
    # Logs are versioned by (change counter, (size, mtime)).
    cache = ResponseCache()
    entry = cache.put("log", b"l", version=(3, (10, 99)), second=1, clock_dependent=False)
    assert cache.get("log", (3, (10, 99)), 2) is entry
    assert cache.get("log", (3, (11, 99)), 2) is None


def test_least_recently_used_entries_are_evicted() -> None:
    cache = ResponseCache(max_bytes=2 * (1000 + ENTRY_OVERHEAD_BYTES))
    body = b"x" * 1000
    cache.put("a", body, version=1, second=1, clock_dependent=False)
    cache.put("b", body, version=1, second=1, clock_dependent=False)
    assert cache.get("a", 1, 1) is not None  # a is now the most recent
    cache.put("c", body, version=1, second=1, clock_dependent=False)
    assert cache.get("b", 1, 1) is None
    assert cache.get("a", 1, 1) is not None
    assert cache.get("c", 1, 1) is not None


def test_the_cache_holds_at_most_its_bytes_whatever_the_pages() -> None:
    limit = 64 * 1024
    cache = ResponseCache(max_bytes=limit)
    for number in range(500):  # an offset sweep: every page another key
        cache.put(("jobs", number), b"j" * (number % 7 * 1000), version=1, second=1,
                  clock_dependent=False)  # fmt: skip
        assert cache.bytes <= limit
    assert cache.bytes == sum(
        len(cache.get(("jobs", n), 1, 1).body) + ENTRY_OVERHEAD_BYTES  # type: ignore[union-attr]
        for n in range(500)
        if cache.get(("jobs", n), 1, 1) is not None
    )
    # A stale entry dropped on read, and a replaced one, give their bytes back.
    before = cache.bytes
    cache.put(("jobs", 499), b"", version=1, second=1, clock_dependent=False)
    assert cache.bytes == before - 499 % 7 * 1000
    assert cache.get(("jobs", 499), 2, 1) is None
    assert cache.bytes == before - 499 % 7 * 1000 - ENTRY_OVERHEAD_BYTES
    # One body over the bound is still kept: it is the answer being served.
    big = cache.put("big", b"b" * (limit * 2), version=1, second=1, clock_dependent=False)
    assert cache.get("big", 1, 1) is big and len(cache) == 1
