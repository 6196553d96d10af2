"""List pages read through indexes, totals from counters that never disagree with the rows.

- Every filter and sort the API accepts is run for real, each SQL statement the store executes
  is captured (the connection's trace callback gives it with its values) and its plan asked
  with EXPLAIN QUERY PLAN: no statement may scan the jobs table or sort through a temporary
  B-tree (a sort of every matching row, per request).
- The pages are the ones the plain ORDER BY of the old store gave (the reference query here),
  for random jobs, filters, sorts and offsets.
- `job_counts` equals `GROUP BY status, job_type` after any sequence of job writes.
"""

from __future__ import annotations

import itertools
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vpo.jobs import (
    CANCELLED,
    COMPLETED,
    FAILED,
    QUEUED,
    RUNNING,
    STATUSES,
    JobQuery,
    format_timestamp,
)
from vpo.server.query import ORDERS, SORT_FIELDS
from vpo.store import MIGRATIONS, SCHEMA_VERSION, JobStore

NOW = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)
OWNER = "test-host:1:1"
# The plan lines that mean "every row": a table scan without an index, a temporary sort.
TABLE_SCAN = re.compile(r"^SCAN jobs$")
TEMP_SORT = "USE TEMP B-TREE"
# An id prefix narrows the rows to one range of ids first (the primary key, or an index
# ending in id after an equal status or type); the few rows of one prefix are then sorted.
# Reading a whole sort index to find them would cost far more.
ID_RANGE = re.compile(r"^SEARCH jobs USING (COVERING )?INDEX \w+ \((.* AND )?id>\? AND id<\?\)$")


def at(seconds: float) -> str:
    return format_timestamp(NOW + timedelta(seconds=seconds))


def add_job(
    store: JobStore,
    *,
    status: str,
    created: float,
    started: float | None = None,
    completed: float | None = None,
    job_type: str = "scan",
    path: str = "/media/show",
) -> str:
    """A job with the given times (seconds from NOW), written as the store writes rows."""
    job = store.create_job(job_type, path, created_at=NOW + timedelta(seconds=created))
    with store._write() as conn:
        conn.execute(
            "UPDATE jobs SET status = ?, started_at = ?, completed_at = ? WHERE id = ?",
            (
                status,
                at(started) if started is not None else None,
                at(completed) if completed is not None else None,
                job.id,
            ),
        )
    return job.id


@contextmanager
def statements(store: JobStore) -> Iterator[list[str]]:
    """The SQL (values filled in) that the calling thread's reader runs inside the block."""
    conn = store._reader()
    seen: list[str] = []
    conn.set_trace_callback(seen.append)
    try:
        yield seen
    finally:
        conn.set_trace_callback(None)


def plan_of(store: JobStore, sql: str) -> list[str]:
    conn = store._reader()
    return [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql)]


@pytest.fixture(scope="module")
def varied_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JobStore]:
    """Jobs of every status, two types, running ones among them (the duration merge)."""
    with JobStore(tmp_path_factory.mktemp("plans")) as store:
        for number in range(60):
            status = STATUSES[number % len(STATUSES)]
            started = None if status == QUEUED or number % 10 == 4 else number + 1.0
            completed = None if status in (QUEUED, RUNNING) else number + 2.5 + number % 7
            if status == CANCELLED and started is None:
                completed = number + 1.0
            add_job(
                store,
                status=status,
                created=number,
                started=started,
                completed=completed,
                job_type="scan" if number % 3 else "transcode",
                path=f"/media/{'show' if number % 2 else 'film'}-{number:03d}",
            )
        yield store


def every_query() -> Iterator[JobQuery]:
    filters = itertools.product(
        (None, *STATUSES),  # status
        (None, "scan"),  # type
        (None, NOW - timedelta(days=1)),  # since
        (None, "show"),  # search
        (None, "a"),  # id prefix
    )
    for (status, job_type, since, search, prefix), sort, order, offset in itertools.product(
        filters, SORT_FIELDS, ORDERS, (0, 55)
    ):
        yield JobQuery(
            status=status,
            job_type=job_type,
            since=since,
            search=search,
            id_prefix=prefix,
            sort=sort,
            order=order,
            limit=10,
            offset=offset,
        )


def test_every_list_query_reads_through_an_index(varied_store: JobStore) -> None:
    problems: list[str] = []
    checked = 0
    for query in every_query():
        for read in (varied_store.list_page, varied_store.list_jobs):
            with statements(varied_store) as seen:
                read(query, now=NOW)
            for sql in seen:
                if not sql.lstrip().upper().startswith("SELECT"):
                    continue  # BEGIN / COMMIT of the read snapshot
                plan = plan_of(varied_store, sql)
                checked += 1
                scans = [line for line in plan if TABLE_SCAN.match(line)]
                sorts = [line for line in plan if TEMP_SORT in line]
                if sorts and query.id_prefix and any(ID_RANGE.match(line) for line in plan):
                    sorts = []
                if scans or sorts:
                    problems.append(f"{query}\n  {sql}\n  {plan}")
    assert checked > 2000  # every combination ran its statements
    assert not problems, f"{len(problems)} statements without an index:\n" + "\n".join(problems[:5])


def test_the_check_above_sees_a_full_scan_and_a_temporary_sort(varied_store: JobStore) -> None:
    # The detector itself: the old store's duration sort had both.
    plan = plan_of(
        varied_store,
        "SELECT id FROM jobs ORDER BY (started_at IS NULL), "
        "julianday(COALESCE(completed_at, '2026-11-30')) - julianday(started_at), id",
    )
    assert any(TABLE_SCAN.match(line) for line in plan)
    assert any(TEMP_SORT in line for line in plan)


# --- the pages are the old ORDER BY's pages --------------------------------------------------


def reference_ids(store: JobStore, q: JobQuery, now: datetime) -> tuple[list[str], int]:
    """The page as one plain ORDER BY over the filtered rows gives it (the old store's SQL)."""
    where, args = [], []
    if q.status:
        where.append("status = ?")
        args.append(q.status)
    if q.job_type:
        where.append("job_type = ?")
        args.append(q.job_type)
    if q.since:
        where.append("created_at >= ?")
        args.append(format_timestamp(q.since))
    if q.search:
        where.append("file_path LIKE ?")
        args.append(f"%{q.search}%")
    if q.id_prefix:
        where.append("id LIKE ?")
        args.append(q.id_prefix + "%")
    where_sql = ("WHERE " + " AND ".join(where)) if where else ""
    direction = q.order.upper()
    if q.sort == "duration":
        order = (
            "(started_at IS NULL), "
            f"julianday(COALESCE(completed_at, '{format_timestamp(now)}')) - julianday(started_at)"
            f" {direction}, id {direction}"
        )
    else:
        order = f"{q.sort} {direction}, id {direction}"
    conn = store._reader()
    total = conn.execute(f"SELECT count(*) FROM jobs {where_sql}", args).fetchone()[0]
    rows = conn.execute(
        f"SELECT id FROM jobs {where_sql} ORDER BY {order} LIMIT ? OFFSET ?",
        [*args, q.limit, q.offset],
    ).fetchall()
    return [row[0] for row in rows], total


def mostly_none(*values: object) -> st.SearchStrategy:
    """A filter left out three times in four: with every filter at once, pages are empty."""
    return (
        st.sampled_from((None, None, None, *values))
        if len(values) == 1
        else st.one_of(st.sampled_from((None, None, None)), st.sampled_from(values))
    )


job_specs = st.lists(
    st.tuples(
        st.sampled_from(STATUSES),
        st.integers(0, 40),  # created, seconds
        st.one_of(st.none(), st.integers(0, 80), st.integers(0, 80)),  # started
        st.one_of(st.none(), st.integers(0, 40), st.integers(0, 40)),  # run time, seconds
        st.sampled_from(("scan", "scan", "transcode")),
        st.sampled_from(("/tv/a", "/tv/b", "/films/a")),
    ),
    min_size=1,
    max_size=25,
)
queries = st.builds(
    JobQuery,
    status=mostly_none(*STATUSES),
    job_type=mostly_none("scan"),
    since=mostly_none(NOW + timedelta(seconds=20)),
    search=mostly_none("tv", "a"),
    id_prefix=mostly_none(*"0123456789abcdef"),
    sort=st.sampled_from(SORT_FIELDS),
    order=st.sampled_from(ORDERS),
    limit=st.integers(1, 8),
    offset=st.integers(0, 26),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs=job_specs, asked=st.lists(queries, min_size=1, max_size=12))
def test_pages_are_the_plain_order_by_pages(
    tmp_path_factory: pytest.TempPathFactory, specs: list, asked: list[JobQuery]
) -> None:
    now = NOW + timedelta(seconds=90)
    with JobStore(tmp_path_factory.mktemp("pages")) as store:
        for status, created, started, run, job_type, path in specs:
            ended = status not in (QUEUED, RUNNING)
            completed = (started or created) + (run or 0) if ended and run is not None else None
            add_job(
                store,
                status=status,
                created=created,
                started=started if status != QUEUED else None,
                completed=completed,
                job_type=job_type,
                path=path,
            )
        for q in asked:
            expected = reference_ids(store, q, now)
            page, total = store.list_page(q, now=now)
            assert ([item.id for item in page], total) == expected, q
            whole, whole_total = store.list_jobs(q, now=now)
            assert ([job.id for job in whole], whole_total) == expected, q


def test_running_jobs_land_between_ended_ones_on_every_page(tmp_path: Path) -> None:
    # Running jobs whose clock durations fall before, between and after the ended jobs', jobs
    # that never started, and a tie; every page of every size, both ways, with and without a
    # status filter.
    now = NOW + timedelta(seconds=100)
    with JobStore(tmp_path) as store:
        for run in (5, 30, 30, 60, 90):
            add_job(store, status=COMPLETED, created=0, started=0, completed=run)
        for started in (95, 50, 10, 70):  # clock durations 5, 50, 90, 30
            add_job(store, status=RUNNING, created=1, started=started)
        add_job(store, status=FAILED, created=2, started=1, completed=41)
        add_job(store, status=QUEUED, created=3)
        add_job(store, status=CANCELLED, created=4, completed=4)  # cancelled while queued
        for status in (None, RUNNING, COMPLETED):
            for order in ORDERS:
                for offset in range(14):
                    for limit in range(1, 6):
                        q = JobQuery(
                            status=status,
                            sort="duration",
                            order=order,
                            limit=limit,
                            offset=offset,
                        )
                        page, total = store.list_page(q, now=now)
                        assert ([item.id for item in page], total) == reference_ids(
                            store, q, now
                        ), q


def test_list_items_carry_what_the_whole_job_shows(varied_store: JobStore) -> None:
    q = JobQuery(limit=100)
    items, _ = varied_store.list_page(q, now=NOW)
    jobs, _ = varied_store.list_jobs(q, now=NOW)
    assert [item.to_list_dict(NOW) for item in items] == [job.to_list_dict(NOW) for job in jobs]


# --- counters ---------------------------------------------------------------------------------


def counts_by_rows(store: JobStore) -> dict[tuple[str, str], int]:
    rows = store._reader().execute(
        "SELECT status, job_type, count(*) FROM jobs GROUP BY status, job_type"
    )
    return {(status, job_type): count for status, job_type, count in rows}


def counts_by_counters(store: JobStore) -> dict[tuple[str, str], int]:
    rows = store._reader().execute("SELECT status, job_type, jobs FROM job_counts WHERE jobs")
    return {(status, job_type): count for status, job_type, count in rows}


operations = st.lists(
    st.tuples(
        st.sampled_from(
            (
                "submit",
                "submit_other_type",
                "foreground",
                "claim",
                "progress",
                "complete",
                "fail",
                "cancel",
                "requeue",
                "orphans",
                "prune",
                "retype",
            )
        ),
        st.integers(0, 30),  # which job, modulo the jobs there are
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=operations)
def test_job_counts_always_agree_with_the_rows(
    tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[str, int]]
) -> None:
    with JobStore(tmp_path_factory.mktemp("counts")) as store:
        ids: list[str] = []
        for operation, pick in steps:
            target = ids[pick % len(ids)] if ids else None
            try:
                if operation == "submit":
                    ids.append(store.create_job("scan", "/tv").id)
                elif operation == "submit_other_type":
                    ids.append(store.create_job("transcode", "/tv").id)
                elif operation == "foreground":
                    job = store.create_job("scan", "/tv", status=RUNNING, owner="gone:1:1")
                    ids.append(job.id)
                elif operation == "claim":
                    store.claim_next_job(OWNER)
                elif target is None:
                    continue
                elif operation == "progress":
                    store.update_progress(target, processed=1)
                elif operation in ("complete", "fail"):
                    store.finish_job(target, COMPLETED if operation == "complete" else FAILED)
                elif operation == "cancel":
                    store.request_cancel(target)
                elif operation == "requeue":
                    store.requeue_job(target)
                elif operation == "orphans":
                    store.recover_orphans(lambda owner: owner == OWNER)
                elif operation == "prune":
                    store.prune_jobs(NOW + timedelta(days=3650))
                elif operation == "retype":
                    with store._write() as conn:  # a newer version's write; the triggers see it
                        conn.execute("UPDATE jobs SET job_type = 'other' WHERE id = ?", (target,))
            except Exception as exc:  # refusals (already terminal, not found) change nothing
                assert type(exc).__name__ in ("JobAlreadyTerminal", "JobNotFound"), exc
            assert counts_by_counters(store) == counts_by_rows(store), operation
        totals = store.counts_by_status()
        for status in STATUSES:
            expected = sum(n for (s, _), n in counts_by_rows(store).items() if s == status)
            assert totals[status] == expected


def test_a_schema_4_database_migrates_with_its_counts_and_duration_order(tmp_path: Path) -> None:
    # As the previous version left it: jobs already there, no counters, no duration column.
    with sqlite3.connect(tmp_path / "vpo.db", isolation_level=None) as conn:
        for migration in MIGRATIONS[:4]:
            for statement in migration:
                conn.execute(statement)
        rows = [
            ("a", "completed", "2026-01-01T00:00:00.000Z", "2026-01-01T00:00:09.000Z"),
            ("b", "failed", "2026-01-01T00:00:00.000Z", "2026-01-01T00:00:01.000Z"),
            ("c", "queued", None, None),
            ("d", "completed", "2026-01-01T00:00:00.000Z", "2026-01-01T00:00:05.000Z"),
        ]
        for job_id, status, started, completed in rows:
            conn.execute(
                "INSERT INTO jobs (id, job_type, status, file_path, created_at, started_at, "
                "completed_at, updated_at) VALUES (?, 'scan', ?, '/tv', "
                "'2026-01-01T00:00:00.000Z', ?, ?, '2026-01-01T00:00:00.000Z')",
                (job_id, status, started, completed),
            )
        conn.execute("PRAGMA user_version = 4")
    with JobStore(tmp_path) as store:
        assert store.schema_version() == SCHEMA_VERSION == 6
        assert counts_by_counters(store) == {
            ("completed", "scan"): 2,
            ("failed", "scan"): 1,
            ("queued", "scan"): 1,
        }
        page, total = store.list_page(JobQuery(sort="duration", order="desc"))
        assert [item.id for item in page] == ["a", "d", "b", "c"] and total == 4
        store.create_job("scan", "/films")
        assert counts_by_counters(store)[("queued", "scan")] == 2
