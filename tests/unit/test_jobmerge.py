"""Merging several daemons' pages into one list (vpo/jobmerge.py), and `daemon:id` refs."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from vpo.jobmerge import SORT_FIELDS, merge_jobs, split_job_ref


def test_split_job_ref() -> None:
    assert split_job_ref("tv:3f2a9c1e") == ("tv", "3f2a9c1e")
    assert split_job_ref("3f2a9c1e") == (None, "3f2a9c1e")
    assert split_job_ref(":3f2a") == (None, "3f2a")
    assert split_job_ref("films:") == ("films", "")


def job(job_id: str, created: str, duration: int | None = None, **fields: object) -> dict:
    return {"id": job_id, "created_at": created, "duration_seconds": duration, **fields}


def test_newest_first_across_daemons_ties_by_id_then_daemon() -> None:
    films = [job("b", "2026-01-03T00:00:00Z"), job("a", "2026-01-01T00:00:00Z")]
    tv = [job("c", "2026-01-02T00:00:00Z"), job("a", "2026-01-01T00:00:00Z")]
    merged = merge_jobs([("tv", tv), ("films", films)])
    assert [(name, j["id"]) for name, j in merged] == [
        ("films", "b"),
        ("tv", "c"),
        ("films", "a"),
        ("tv", "a"),
    ]


def test_duration_puts_unstarted_jobs_last_in_both_orders() -> None:
    pages = [
        ("a", [job("1", "x", 5), job("2", "x", None)]),
        ("b", [job("3", "x", 9), job("4", "x", None)]),
    ]
    down = [j["id"] for _n, j in merge_jobs(pages, "duration", "desc")]
    up = [j["id"] for _n, j in merge_jobs(pages, "duration", "asc")]
    assert down == ["3", "1", "4", "2"]
    assert up == ["1", "3", "2", "4"]


jobs_strategy = st.lists(
    st.builds(
        lambda n, created, duration, status: job(
            str(uuid.UUID(int=n)), f"2026-01-{created:02d}T00:00:00Z", duration, status=status
        ),
        st.integers(0, 2**20),
        st.integers(1, 28),
        st.one_of(st.none(), st.integers(0, 100)),
        st.sampled_from(["queued", "running", "completed"]),
    ),
    max_size=12,
)


@given(
    st.dictionaries(st.sampled_from(["films", "tv", "seedbox"]), jobs_strategy, max_size=3),
    st.sampled_from(SORT_FIELDS),
    st.sampled_from(["asc", "desc"]),
)
def test_merging_is_sorting_the_union(pages: dict, sort: str, order: str) -> None:
    """Whatever the pages, the merge is the union (nothing lost, nothing twice) in an order
    that does not depend on the order the daemons answered in."""
    merged = merge_jobs(pages.items(), sort, order)
    assert sorted((n, j["id"]) for n, j in merged) == sorted(
        (n, j["id"]) for n, jobs in pages.items() for j in jobs
    )
    backwards = merge_jobs(reversed(list(pages.items())), sort, order)
    assert [(n, j["id"]) for n, j in backwards] == [(n, j["id"]) for n, j in merged]
    if sort != "duration":
        values = [j.get(sort) or "" for _n, j in merged]
        assert values == sorted(values, reverse=order == "desc")
