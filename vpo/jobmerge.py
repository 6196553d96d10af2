"""Jobs of several daemons as one list (`vpo jobs list --all`, `vpo-tui --all`), and the
`daemon:id` form of a job reference. Pure: no I/O.

Each daemon sorts its own page (docs/api.md, `sort`/`order`); merging the pages in the same
order gives the list one daemon holding every job would give: the same column, ties broken by
id, and for `duration` the jobs never started last in either direction. Ties that remain
(the same id on two daemons) go by daemon name, so the order never depends on which answer
came first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

SORT_FIELDS = ("created_at", "job_type", "status", "file_path", "duration")
REF_SEPARATOR = ":"


def split_job_ref(ref: str) -> tuple[str | None, str]:
    """`films:3f2a9c1e` -> ("films", "3f2a9c1e"); a ref without a daemon -> (None, ref).

    Job ids are hex and dashes, so the first ':' can only separate a daemon's name.
    """
    name, separator, job_id = ref.partition(REF_SEPARATOR)
    if not separator:
        return None, ref
    return name.strip() or None, job_id.strip()


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _sort_value(job: Mapping[str, Any], sort: str) -> object:
    """The job's value in the sort column, None only for a duration not yet started."""
    if sort == "duration":
        value = job.get("duration_seconds")
        return value if isinstance(value, int | float) and not isinstance(value, bool) else None
    field = sort if sort in SORT_FIELDS else "created_at"
    return _text(job.get(field))


def merge_jobs(
    pages: Iterable[tuple[str, Iterable[Mapping[str, Any]]]],
    sort: str = "created_at",
    order: str = "desc",
) -> list[tuple[str, Mapping[str, Any]]]:
    """(daemon name, job) pairs of every page, in the daemons' own sort order."""
    descending = order != "asc"
    valued: list[tuple[object, str, str, Mapping[str, Any]]] = []
    unstarted: list[tuple[str, str, Mapping[str, Any]]] = []
    for name, jobs in pages:
        for job in jobs:
            value = _sort_value(job, sort)
            job_id = _text(job.get("id"))
            if value is None:
                unstarted.append((job_id, name, job))
            else:
                valued.append((value, job_id, name, job))
    # Sorts are stable (also with reverse=True): by name first, so equal (value, id) pairs
    # stay in name order.
    valued.sort(key=lambda row: row[2])
    valued.sort(key=lambda row: (row[0], row[1]), reverse=descending)
    unstarted.sort(key=lambda row: row[1])
    unstarted.sort(key=lambda row: row[0], reverse=descending)
    return [(name, job) for _v, _i, name, job in valued] + [
        (name, job) for _i, name, job in unstarted
    ]
