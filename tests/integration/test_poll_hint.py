"""`X-Poll-Interval` on the polled answers of a real daemon (docs/api.md, docs/design.md §7).

Jobs in known states are seeded into the daemon's SQLite file from this process (as in
test_api.py): a seeded `running` job stays running, since the worker only claims queued ones,
so the test controls exactly when the daemon is busy and when it is idle.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.daemon import DaemonProcess
from vpo.client import VpoClient
from vpo.commands.jobs import FollowPace
from vpo.jobs import CANCELLED, RUNNING
from vpo.store import JobStore

INTERVAL_MS = 2000
IDLE_MS = 9000


@pytest.fixture
def hinted(daemon_factory) -> DaemonProcess:
    config = {"polling": {"interval_seconds": 2, "idle_interval_seconds": 9}}
    return daemon_factory(config=config).start()


@pytest.fixture
def store(hinted: DaemonProcess) -> Iterator[JobStore]:
    job_store = JobStore(hinted.data_dir)
    yield job_store
    job_store.close()


def polled_paths(job_id: str) -> list[str]:
    return [
        "/api/jobs",
        "/api/jobs?status=completed",
        f"/api/jobs/{job_id}",
        f"/api/jobs/{job_id}/logs",
    ]


def hints(http: httpx.Client, paths: list[str]) -> dict[str, tuple[int, int, str]]:
    """Per path: (status of a first GET, status of a conditional GET, hint of each)."""
    seen: dict[str, tuple[int, int, str]] = {}
    for path in paths:
        first = http.get(path)
        again = http.get(path, headers={"If-None-Match": first.headers["ETag"]})
        assert first.headers["X-Poll-Interval"] == again.headers["X-Poll-Interval"], path
        seen[path] = (first.status_code, again.status_code, again.headers["X-Poll-Interval"])
    return seen


def test_the_hint_follows_the_work_on_200s_and_304s(
    hinted: DaemonProcess, store: JobStore, tmp_path: Path
) -> None:
    job = store.create_job("scan", str(tmp_path), status=RUNNING)
    with hinted.client() as http:
        busy = hints(http, polled_paths(job.id))
        assert busy == {path: (200, 304, str(INTERVAL_MS)) for path in polled_paths(job.id)}
        store.finish_job(job.id, CANCELLED)
        idle = hints(http, polled_paths(job.id))
        assert idle == {path: (200, 304, str(IDLE_MS)) for path in polled_paths(job.id)}


def test_the_hint_is_no_part_of_the_tag(
    hinted: DaemonProcess, store: JobStore, tmp_path: Path
) -> None:
    """A filtered list whose body does not change keeps its tag (and its 304s, served from the
    response cache) while the hint flips from busy to idle."""
    done = store.create_job("scan", str(tmp_path), status=RUNNING)
    store.finish_job(done.id, CANCELLED)
    with hinted.client() as http:
        first = http.get("/api/jobs?status=cancelled")
        tag = first.headers["ETag"]
        assert first.headers["X-Poll-Interval"] == str(IDLE_MS)
        other = store.create_job("scan", str(tmp_path), status=RUNNING)
        busy = http.get("/api/jobs?status=cancelled", headers={"If-None-Match": tag})
        assert (busy.status_code, busy.headers["X-Poll-Interval"]) == (304, str(INTERVAL_MS))
        store.finish_job(other.id, "completed")
        idle = http.get("/api/jobs?status=cancelled", headers={"If-None-Match": tag})
        assert (idle.status_code, idle.headers["ETag"]) == (304, tag)
        assert idle.headers["X-Poll-Interval"] == str(IDLE_MS)
        again = http.get("/api/jobs?status=cancelled", headers={"If-None-Match": tag})
        assert (again.status_code, again.headers["X-Cache"]) == (304, "HIT")


def test_the_default_idle_hint_is_four_intervals_capped_at_the_maximum(daemon_factory) -> None:
    plain = daemon_factory().start()
    slow = daemon_factory(config={"polling": {"interval_seconds": 20}}).start()
    with plain.client() as http:
        assert http.get("/api/jobs").headers["X-Poll-Interval"] == "20000"
    with slow.client() as http:
        assert http.get("/api/jobs").headers["X-Poll-Interval"] == "60000"


def test_cli_followers_keep_their_interval_unless_the_daemon_is_idle(hinted: DaemonProcess) -> None:
    """`vpo jobs wait` / `logs -f` pace: the user's --interval, stretched by an idle hint only
    (the daemon's own interval, asked once, tells a busy hint from an idle one)."""
    with VpoClient(hinted.url) as client:
        pace = FollowPace(client, 1.0)
        assert pace.seconds() == 1.0
        pace.note(INTERVAL_MS)  # busy: the daemon's interval is no reason to slow down
        assert pace.seconds() == 1.0
        pace.note(IDLE_MS)
        assert pace.seconds() == IDLE_MS / 1000
        pace.note(None)
        assert pace.seconds() == 1.0
        slow = FollowPace(client, 30.0)
        slow.note(IDLE_MS)
        assert slow.seconds() == 30.0
