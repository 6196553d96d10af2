"""`vpo-tui --all`: one list over three real daemon processes, each with its own poll loop.

The daemons poll at the shortest interval the rules allow (2 s, idle hint switched off with
`idle_interval_seconds = 2`), and the app runs Textual's real timers and a real clock: what is
checked is that the loops really keep their pace.

Two outages: a daemon frozen (SIGSTOP for 14 s, one request timeout and a bit), the harder case
for the others since its requests hang until the 10 s timeout instead of being refused at once;
and the issue's own case, a daemon stopped for a whole minute and started again on the same
port and data dir. Meanwhile the other two must go on polling every interval, and the stopped
one's rows must stay, marked stale, and come back to life when it does.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

from tests.support.daemon import DaemonProcess, queue_empty_scans
from tests.support.daemon import wait_until as wait_daemon
from tests.tui.harness import screen_text, wait_for
from vpo.client import AsyncVpoClient
from vpo.jobs import RUNNING
from vpo.store import JobStore
from vpo_tui.app import VpoTuiApp
from vpo_tui.merged_list import row_key
from vpo_tui.screens.confirm import ConfirmScreen
from vpo_tui.screens.multi_jobs import MultiJobsScreen

FAST = {"polling": {"interval_seconds": 2, "idle_interval_seconds": 2}}
NAMES = ("films", "tv", "seedbox")
INTERVAL_S = 2.0
STOP_S = 14.0  # longer than one request timeout (10 s)
DOWN_S = 60.0  # "stops one for a minute and restarts it"
# After a minute down, tv's loop is in backoff (10 s, 20 s, 40 s ... at most 120 s): it must
# find the daemon again by its next scheduled try, with no key pressed.
RECOVERY_S = 120.0 + 10.0


def three_daemons(daemon_factory) -> dict[str, DaemonProcess]:
    return {name: daemon_factory(config=FAST).start() for name in NAMES}


def make_app(daemons: dict[str, DaemonProcess]) -> VpoTuiApp:
    feeds = [(name, AsyncVpoClient(daemon.url)) for name, daemon in daemons.items()]
    return VpoTuiApp(feeds[0][1], url=feeds[0][1].base_url, feeds=feeds)


async def multi_screen(pilot, app: VpoTuiApp) -> MultiJobsScreen:
    await wait_for(pilot, lambda: isinstance(app.screen, MultiJobsScreen))
    return app.screen  # type: ignore[return-value]


def first_job(daemon: DaemonProcess, folder: Path) -> str:
    return queue_empty_scans(daemon.url, folder, 1)[0]["id"]


async def screen_with_rows(
    pilot, app: VpoTuiApp, jobs: dict[str, str]
) -> tuple[MultiJobsScreen, dict[str, str], dict]:
    """The --all screen once every daemon's first job shows: (screen, row key by daemon name,
    feed by daemon name)."""
    screen = await multi_screen(pilot, app)
    keys = {name: row_key(name, job_id) for name, job_id in jobs.items()}
    await wait_for(pilot, lambda: set(keys.values()) <= set(screen.table.job_ids), timeout=20)
    return screen, keys, {feed.name: feed for feed in screen.feeds}


async def test_one_daemon_stopped_never_slows_or_blanks_the_others(
    daemon_factory, tmp_path: Path
) -> None:
    daemons = three_daemons(daemon_factory)
    jobs = {name: first_job(daemon, tmp_path / name) for name, daemon in daemons.items()}
    app = make_app(daemons)
    async with app.run_test(size=(140, 30)) as pilot:
        screen, keys, feeds = await screen_with_rows(pilot, app, jobs)
        table = screen.table
        await wait_for(pilot, lambda: "films ● · tv ● · seedbox ●" in screen_text(app))

        daemons["tv"].signal(signal.SIGSTOP)
        try:
            stopped_at = time.monotonic()
            done = {name: feeds[name].loop.requests_finished for name in ("films", "seedbox")}
            # New jobs on the running daemons appear at their pace while tv hangs.
            late = {
                name: first_job(daemons[name], tmp_path / f"{name}-late")
                for name in ("films", "seedbox")
            }
            for key in [row_key(name, job_id) for name, job_id in late.items()]:
                await wait_for(
                    pilot,
                    lambda key=key: key in table.job_ids,
                    timeout=3 * INTERVAL_S + 3,
                    message=f"{key} did not appear while tv was stopped",
                )
            await wait_for(
                pilot,
                lambda: feeds["tv"].loop.poller.failures >= 1,
                timeout=15,
                message="tv's hung request never timed out",
            )
            # tv's rows stay, marked stale; the status line says what tv's loop does.
            assert keys["tv"] in table.job_ids
            await wait_for(pilot, lambda: "tv ✗" in screen_text(app))
            assert "tv ◐ reconnecting" in screen_text(app)
            while time.monotonic() - stopped_at < STOP_S:
                await pilot.pause(0.2)
            elapsed = time.monotonic() - stopped_at
            for name in ("films", "seedbox"):
                polls = feeds[name].loop.requests_finished - done[name]
                # One poll per interval (plus the request's own time); never held up by tv.
                assert polls >= elapsed / (INTERVAL_S + 1.5) - 1, (name, polls, elapsed)
                assert feeds[name].loop.poller.state == "connected"
        finally:
            daemons["tv"].signal(signal.SIGCONT)

        # tv comes back: its mark goes, and its new jobs show again.
        recovered = first_job(daemons["tv"], tmp_path / "tv-late")
        await wait_for(
            pilot,
            lambda: row_key("tv", recovered) in table.job_ids,
            timeout=20,
            message="tv never recovered",
        )
        await wait_for(pilot, lambda: "tv ✗" not in screen_text(app), timeout=10)
        assert feeds["tv"].loop.poller.state == "connected"


async def test_switching_daemons_keeps_the_cursor_and_cancel_goes_to_the_owner(
    daemon_factory, tmp_path: Path
) -> None:
    daemons = three_daemons(daemon_factory)
    for name, daemon in daemons.items():
        first_job(daemon, tmp_path / name)
    # A running job that the seedbox worker never takes (seeded into its database).
    with JobStore(daemons["seedbox"].data_dir) as store:
        running = store.create_job("scan", str(tmp_path), status=RUNNING)
    app = make_app(daemons)
    async with app.run_test(size=(140, 30)) as pilot:
        screen = await multi_screen(pilot, app)
        table = screen.table
        target = row_key("seedbox", running.id)
        await wait_for(pilot, lambda: len(table.job_ids) == 4, timeout=20)
        table.move_cursor(row=table.get_row_index(target))
        assert table.cursor_job_id == target

        await pilot.press("d")  # films only: the seedbox job is not shown
        await wait_for(pilot, lambda: all(k.startswith("films:") for k in table.job_ids))
        assert "showing films" in screen_text(app)
        await pilot.press("d", "d")  # tv, then seedbox: the cursor is back on its job
        await wait_for(pilot, lambda: all(k.startswith("seedbox:") for k in table.job_ids))
        assert table.cursor_job_id == target
        await pilot.press("d")  # all again
        await wait_for(pilot, lambda: len(table.job_ids) == 4)
        assert table.cursor_job_id == target

        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, MultiJobsScreen))
        with JobStore(daemons["seedbox"].data_dir) as store:
            wait_daemon(lambda: store.cancel_requested(running.id), timeout=10)
            store.finish_job(running.id, "cancelled")


async def test_a_daemon_down_for_a_minute_and_restarted_comes_back_alone(
    daemon_factory, tmp_path: Path
) -> None:
    daemons = three_daemons(daemon_factory)
    jobs = {name: first_job(daemon, tmp_path / name) for name, daemon in daemons.items()}
    app = make_app(daemons)
    async with app.run_test(size=(140, 30)) as pilot:
        screen, keys, feeds = await screen_with_rows(pilot, app, jobs)
        table = screen.table

        assert daemons["tv"].stop() == 0  # SIGTERM: a real stop, its port refuses at once
        stopped_at = time.monotonic()
        done = {name: feeds[name].loop.requests_finished for name in ("films", "seedbox")}
        await wait_for(pilot, lambda: "tv ✗" in screen_text(app), timeout=15)
        late = {
            name: first_job(daemons[name], tmp_path / f"{name}-late")
            for name in ("films", "seedbox")
        }
        while time.monotonic() - stopped_at < DOWN_S:
            await pilot.pause(0.5)
            # tv's rows stay on screen the whole minute, marked stale.
            assert keys["tv"] in table.job_ids
        elapsed = time.monotonic() - stopped_at
        for name in ("films", "seedbox"):
            polls = feeds[name].loop.requests_finished - done[name]
            assert polls >= elapsed / (INTERVAL_S + 1.5) - 1, (name, polls, elapsed)
            assert feeds[name].loop.poller.state == "connected"
            assert row_key(name, late[name]) in table.job_ids
        assert "tv ✗" in screen_text(app)

        daemons["tv"].start()  # the same port and data dir
        recovered = first_job(daemons["tv"], tmp_path / "tv-back")
        await wait_for(
            pilot,
            lambda: row_key("tv", recovered) in table.job_ids,
            timeout=RECOVERY_S,
            message="tv never came back after its restart",
        )
        await wait_for(pilot, lambda: "tv ✗" not in screen_text(app), timeout=10)
        assert feeds["tv"].loop.poller.state == "connected"
        assert keys["tv"] in table.job_ids  # its old rows are still there, live again
