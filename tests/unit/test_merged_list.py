"""The merged jobs list of several daemons (vpo_tui/merged_list.py): pure logic."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from vpo_tui.merged_list import (
    DaemonRows,
    DaemonState,
    daemon_state_text,
    merged_jobs,
    merged_rows,
    next_view,
    row_key,
    split_row_key,
    status_text,
)
from vpo_tui.rowdiff import diff_rows

NAMES = st.sampled_from(["films", "tv", "seedbox", "nas-2", "ü"])


def cells(job) -> tuple[str, ...]:
    return (str(job["id"])[:8], str(job["status"]))


def job(n: int, created_day: int, status: str = "completed") -> dict:
    return {
        "id": str(uuid.UUID(int=n)),
        "created_at": f"2026-01-{created_day:02d}T00:00:00Z",
        "status": status,
        "duration_seconds": None,
    }


@given(NAMES, st.uuids().map(str))
def test_row_keys_round_trip(name: str, job_id: str) -> None:
    assert split_row_key(row_key(name, job_id)) == (name, job_id)


JOB_LISTS = st.lists(
    st.builds(job, st.integers(0, 50), st.integers(1, 28)),
    max_size=8,
    unique_by=lambda j: j["id"],
)


@given(st.dictionaries(NAMES, JOB_LISTS, max_size=4))
def test_the_same_job_id_on_two_daemons_is_two_rows(pages: dict) -> None:
    daemons = [DaemonRows(name, tuple(jobs)) for name, jobs in pages.items()]
    rows = merged_rows(daemons, cells)
    keys = [key for key, _ in rows]
    assert len(keys) == len(set(keys)) == sum(len(jobs) for jobs in pages.values())
    for key, row in rows:
        daemon, job_id = split_row_key(key)
        assert row[0] == daemon and row[1] == job_id[:8]
    assert set(merged_jobs(daemons)) == set(keys)
    created = [merged_jobs(daemons)[key]["created_at"] for key in keys]
    assert created == sorted(created, reverse=True)


@given(st.dictionaries(NAMES, JOB_LISTS, min_size=2, max_size=4), st.data())
def test_a_daemon_going_stale_only_marks_its_own_rows(pages: dict, data) -> None:
    """The row diff works across daemons: a stale daemon keeps its rows (only the Daemon cell
    changes) and the others' rows are untouched."""
    names = list(pages)
    down = data.draw(st.sampled_from(names))
    before = merged_rows([DaemonRows(n, tuple(pages[n])) for n in names], cells)
    after = merged_rows([DaemonRows(n, tuple(pages[n]), stale=n == down) for n in names], cells)
    patch = diff_rows(before, after)
    assert patch.removals == [] and patch.inserts == [] and patch.rebuild is None
    assert patch.order is None
    assert {split_row_key(str(u.key))[0] for u in patch.updates} <= {down}
    assert all(u.column == 0 and u.value == f"{down} ✗" for u in patch.updates)
    assert len(patch.updates) == len(pages[down])


@given(st.dictionaries(NAMES, JOB_LISTS, min_size=1, max_size=4), st.data())
def test_one_daemon_view_is_that_daemons_rows_in_the_same_order(pages: dict, data) -> None:
    daemons = [DaemonRows(name, tuple(jobs)) for name, jobs in pages.items()]
    only = data.draw(st.sampled_from(list(pages)))
    every = merged_rows(daemons, cells)
    one = merged_rows(daemons, cells, only=only)
    assert one == [row for row in every if split_row_key(row[0])[0] == only]


def test_next_view_cycles_all_then_each_daemon() -> None:
    names = ["films", "tv"]
    seen = [None]
    for _ in range(3):
        seen.append(next_view(names, seen[-1]))
    assert seen == [None, "films", "tv", None]
    assert next_view(names, "gone") is None
    assert next_view([], None) is None


def test_status_line_words() -> None:
    states = [
        DaemonState("films", "connected"),
        DaemonState("tv", "reconnecting", seconds_to_next=19.2),
        DaemonState("nas", "offline", seconds_to_next=80),
        DaemonState("new", "connected", never_succeeded=True),
        DaemonState("key", "denied", denied_words="token refused"),
    ]
    assert status_text(states[:2], None) == "films ● · tv ◐ reconnecting in 20 s"
    assert daemon_state_text(states[2]) == "nas ✗ offline, next try in 80 s"
    assert daemon_state_text(states[3]) == "new ◌ connecting"
    assert daemon_state_text(states[4]) == "key ✗ token refused"
    assert daemon_state_text(DaemonState("old", "connected", stale=True)) == "old ✗ stale"
    assert status_text(states[:1], "films").endswith("showing films (d: next)")
