"""The jobs of several daemons as one table (`vpo-tui --all`): pure, no Textual, no I/O.

Rows are keyed by daemon and job id (`films:3f1c...`, the `NAME:ID` form of the CLI), so the
row diff (`vpo_tui.rowdiff`) works across daemons: a job keeps its row, and the cursor its job,
whatever the other daemons do, and two daemons can never collide on an id.

A daemon that stopped answering keeps its rows (its last good answer): they are marked stale by
a `✗` after the daemon's name in the Daemon column, and the status line says what the daemon's
loop is doing. When the daemon answers again the mark goes and the rows update like any other.
Rows leave only when the daemon itself says the job is gone.

The order is the one a single daemon holding every job would give (`vpo.jobmerge`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vpo.jobmerge import REF_SEPARATOR, merge_jobs, split_job_ref
from vpo_tui.rowdiff import Row

STALE_MARK = " ✗"


def row_key(daemon: str, job_id: str) -> str:
    return f"{daemon}{REF_SEPARATOR}{job_id}"


def split_row_key(key: str) -> tuple[str, str]:
    """(daemon, job id) of a row key; a key without a daemon belongs to no daemon ("")."""
    daemon, job_id = split_job_ref(key)
    return daemon or "", job_id


@dataclass(frozen=True)
class DaemonRows:
    """What one daemon last said: its page of jobs and whether that answer is still current."""

    name: str
    jobs: tuple[Mapping[str, Any], ...] = ()
    total: int | None = None
    stale: bool = False


def daemon_cell(rows: DaemonRows) -> str:
    return rows.name + (STALE_MARK if rows.stale else "")


def merged_rows(
    daemons: Sequence[DaemonRows],
    cells: Callable[[Mapping[str, Any]], tuple[str, ...]],
    *,
    sort: str = "created_at",
    order: str = "desc",
    only: str | None = None,
) -> list[Row]:
    """The table rows: the Daemon cell, then `cells(job)`, in the merged order; `only` keeps
    one daemon's rows (the view switched to it)."""
    shown = [rows for rows in daemons if only is None or rows.name == only]
    by_name = {rows.name: rows for rows in shown}
    merged = merge_jobs([(rows.name, rows.jobs) for rows in shown], sort, order)
    return [
        (row_key(name, str(job.get("id"))), (daemon_cell(by_name[name]), *cells(job)))
        for name, job in merged
    ]


def merged_jobs(daemons: Sequence[DaemonRows], only: str | None = None) -> dict[str, Any]:
    """Every shown job by row key (what the screen looks a row's job up in)."""
    return {
        row_key(rows.name, str(job.get("id"))): job
        for rows in daemons
        if only is None or rows.name == only
        for job in rows.jobs
    }


def next_view(names: Sequence[str], current: str | None) -> str | None:
    """The view after `current`: all (None) -> each daemon in turn -> all."""
    if not names:
        return None
    if current is None:
        return names[0]
    try:
        index = names.index(current)
    except ValueError:
        return None
    return names[index + 1] if index + 1 < len(names) else None


@dataclass(frozen=True)
class DaemonState:
    """One daemon's loop as the status line tells it."""

    name: str
    state: str  # connected, reconnecting, offline, denied (vpo_tui.poller)
    seconds_to_next: float | None = None
    never_succeeded: bool = False
    stale: bool = False  # connected by the count, yet no answer for too long
    denied_words: str = ""


def daemon_state_text(daemon: DaemonState) -> str:
    """`films ●`, `tv ◐ reconnecting in 20 s`, `nas ✗ offline, next try in 80 s`."""
    wait = ""
    if daemon.seconds_to_next is not None:
        wait = f" in {math.ceil(daemon.seconds_to_next)} s"
    if daemon.state == "denied":
        return f"{daemon.name} ✗ {daemon.denied_words or 'access refused'}"
    if daemon.state == "offline":
        return f"{daemon.name} ✗ offline, next try{wait}"
    if daemon.state == "reconnecting":
        return f"{daemon.name} ◐ reconnecting{wait}"
    if daemon.never_succeeded:
        return f"{daemon.name} ◌ connecting"
    if daemon.stale:
        return f"{daemon.name} ✗ stale"
    return f"{daemon.name} ●"


def status_text(daemons: Sequence[DaemonState], view: str | None) -> str:
    """Every daemon's state, and which one the list shows when it is not all of them."""
    text = " · ".join(daemon_state_text(daemon) for daemon in daemons)
    return text if view is None else f"{text}  ·  showing {view} (d: next)"
