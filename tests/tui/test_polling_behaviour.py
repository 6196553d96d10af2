"""Focus pausing and daemon outages, with real requests to a real daemon.

The manual scheduler stands in for real time only in *when* polls fire, and the fake clock only
for the countdown: the backoff reaches 120 s, which a test cannot wait for. Every fired poll is a
real request, refused for real while the daemon is stopped.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from textual.events import AppBlur, AppFocus

from tests.tui.harness import CountingClient, jobs_screen, poll_once, screen_text, wait_for
from vpo_tui.app import VpoTuiApp


async def test_blur_stops_requests_and_focus_fetches_at_once(daemon, make_app, scheduler):
    app = make_app(daemon.url)
    client = app.client
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await jobs_screen(pilot, app)
        await poll_once(pilot, screen.loop, scheduler)
        assert len(scheduler.armed) == 1

        app.post_message(AppBlur())
        await wait_for(pilot, lambda: "focus" in app.pause_reasons)
        sent = client.total
        # No timer left to fire: nothing can go out while the terminal is not focused.
        assert scheduler.armed == []
        screen.loop._on_timer()  # even a stray timer callback sends nothing
        await pilot.pause()
        assert client.total == sent
        await wait_for(pilot, lambda: "PAUSED" in screen_text(app))

        app.post_message(AppFocus())
        await wait_for(pilot, lambda: client.total > sent, message="no fetch on focus")
        await wait_for(pilot, lambda: len(scheduler.armed) == 1)
        assert client.total == sent + 1
        await wait_for(pilot, lambda: "PAUSED" not in screen_text(app))


async def test_quick_blur_and_focus_during_a_request_keep_one_loop(daemon, make_app, scheduler):
    app = make_app(daemon.url)
    client = app.client
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await jobs_screen(pilot, app)
        loop = screen.loop
        started = loop.requests_started
        scheduler.fire()  # the request is now in flight (its worker has not run yet)
        assert loop.poller.in_flight
        loop.pause("focus")
        loop.resume("focus")
        loop.poll_now()
        await wait_for(pilot, lambda: not loop.poller.in_flight and len(scheduler.armed) == 1)
        # One request from the timer, then exactly one follow-up loop (the resume's fetch).
        await wait_for(pilot, lambda: loop.requests_finished == loop.requests_started)
        assert loop.requests_started - started <= 2
        assert len(scheduler.armed) == 1
        assert client.sent["/api/jobs"] == loop.requests_started


async def test_user_pause_with_p(daemon, make_app, scheduler):
    app = make_app(daemon.url)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await jobs_screen(pilot, app)
        await pilot.press("p")
        assert scheduler.armed == []
        await wait_for(pilot, lambda: "PAUSED (p to resume)" in screen_text(app))
        started = screen.loop.requests_started
        await pilot.press("r")  # an explicit refresh still goes out, and arms no timer
        await wait_for(pilot, lambda: screen.loop.requests_finished > started)
        assert scheduler.armed == []
        await pilot.press("p")
        await wait_for(pilot, lambda: len(scheduler.armed) == 1)
        await wait_for(pilot, lambda: "PAUSED" not in screen_text(app))

        await pilot.press("question_mark")
        await wait_for(pilot, lambda: "cancel a queued or running job" in screen_text(app))
        await pilot.press("escape")
        await wait_for(pilot, lambda: "cancel a queued or running job" not in screen_text(app))


async def test_outage_backoff_and_recovery(daemon_factory, make_app, scheduler, clock):
    # Idle interval = interval: no idle hint in the delays (tests/tui/test_poll_hint.py has it).
    daemon = daemon_factory(config={"polling": {"idle_interval_seconds": 5}}).start()
    app = make_app(daemon.url)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await jobs_screen(pilot, app)
        interval = app.interval_ms / 1000
        await wait_for(pilot, lambda: "● connected" in screen_text(app))
        first_timer = len(scheduler.timers)

        daemon.stop()
        states = []
        for _ in range(8):
            await poll_once(pilot, screen.loop, scheduler)
            states.append(screen.loop.poller.state)
        delays = scheduler.delays[first_timer:]
        assert delays == [interval, interval, 10, 20, 40, 80, 120, 120]
        assert states == ["reconnecting"] * 2 + ["offline"] * 6
        text = screen_text(app)
        assert "✗ offline, next try in 120s" in text
        assert "connection refused" in text

        # The countdown follows the (fake) clock; its one-second refresh is real.
        clock.advance(75)
        await wait_for(
            pilot,
            lambda: "next try in 45s" in screen_text(app),
            timeout=5,
            message="the offline countdown did not move",
        )

        daemon.start()
        await poll_once(pilot, screen.loop, scheduler)
        assert screen.loop.poller.state == "connected"
        assert scheduler.delays[-1] == interval  # back to the normal interval at once
        await wait_for(pilot, lambda: "● connected" in screen_text(app))
        await wait_for(pilot, lambda: "offline" not in screen_text(app))


async def test_interval_comes_from_the_daemon_and_the_flag_wins(
    daemon_factory, make_app, scheduler
):
    daemon = daemon_factory(
        config={
            "polling": {
                "interval_seconds": 7,
                "log_interval_seconds": 20,
                "idle_interval_seconds": 7,
            }
        }
    ).start()
    app = make_app(daemon.url)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await jobs_screen(pilot, app)
        assert app.polling_config == {
            "interval_ms": 7000,
            "log_interval_ms": 20000,
            "enabled": True,
        }
        assert (app.interval_ms, app.log_interval_ms) == (7000, 20000)
        assert scheduler.delays == [7.0]
        # Nothing changed since: the next poll is a 304, "nothing to apply".
        await poll_once(pilot, screen.loop, scheduler)
        assert screen.loop.poller.last_outcome == "not_modified"
        assert screen.loop.poller.state == "connected"

    flagged = make_app(daemon.url, interval_s=3)
    async with flagged.run_test(size=(100, 30)) as pilot:
        await jobs_screen(pilot, flagged)
        assert flagged.interval_ms == 3000
        assert flagged.log_interval_ms == 20000
        assert scheduler.delays[-1] == 3.0


class GarbageHandler(BaseHTTPRequestHandler):
    """Answers every request with 200 and a body that is not JSON (a misconfigured proxy)."""

    def do_GET(self) -> None:
        body = b"<html>[bold]not json</html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


async def test_bad_answers_become_the_connection_state_not_a_crash(make_app, scheduler):
    server = ThreadingHTTPServer(("127.0.0.1", 0), GarbageHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        app = make_app(url)
        async with app.run_test(size=(100, 30)) as pilot:
            screen = await jobs_screen(pilot, app)
            for _ in range(2):
                await poll_once(pilot, screen.loop, scheduler)
            assert screen.loop.poller.state == "offline"
            assert app.is_running
            assert "unexpected answer" in (screen.loop.last_error or "")
            await wait_for(pilot, lambda: "offline" in screen_text(app))
    finally:
        server.shutdown()
        server.server_close()


async def test_token_is_sent_and_a_missing_one_is_explained(daemon_factory, scheduler, clock):
    token = "s3cret-token-for-the-tui-test"
    daemon = daemon_factory(token=token).start()
    empty = daemon.tmp_path / "empty"
    empty.mkdir()
    with daemon.client() as http:
        assert http.post("/api/jobs", json={"job_type": "scan", "path": str(empty)}).is_success

    app = VpoTuiApp(
        CountingClient(daemon.url, token), scheduler=scheduler, clock=clock, show_stats=False
    )
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await jobs_screen(pilot, app)
        assert len(screen.table.job_ids) == 1
        assert screen.loop.poller.state == "connected"

    # No token: its own state, the fix in words that fit 80x24, and no backoff loop.
    anonymous = VpoTuiApp(
        CountingClient(daemon.url), scheduler=scheduler, clock=clock, show_stats=False
    )
    timers_before = len(scheduler.timers)
    async with anonymous.run_test(size=(80, 24)) as pilot:
        screen = await jobs_screen(pilot, anonymous)
        assert screen.table.job_ids == []
        assert screen.loop.poller.state == "denied"
        text = await wait_for(
            pilot, lambda: screen_text(anonymous) if "--token" in screen_text(anonymous) else ""
        )
        assert "✗ token needed" in text
        assert "offline" not in text and "reconnecting" not in text
        # The advice wraps inside 80 columns: both ways to give the token are on screen.
        flat = " ".join(text.split())
        assert "--token TOKEN or set VPO_TOKEN" in flat
        assert "then press r" in flat
        assert len(scheduler.timers) == timers_before  # nothing armed: no retry loop
        sent = anonymous.client.total
        await pilot.press("r")  # the user's retry goes out, once
        await wait_for(pilot, lambda: anonymous.client.total > sent)
        await wait_for(pilot, lambda: not screen.loop.poller.in_flight)
        assert screen.loop.poller.state == "denied"
        assert len(scheduler.timers) == timers_before


async def test_a_refused_token_is_fixed_from_the_config_without_a_restart(
    daemon_factory, scheduler, clock
):
    token = "the-right-token-for-this-daemon"
    daemon = daemon_factory(token=token).start()
    configured = {"token": "a-wrong-token-typed-by-someone"}
    app = VpoTuiApp(
        CountingClient(daemon.url, configured["token"]),
        scheduler=scheduler,
        clock=clock,
        token_source=lambda: configured["token"],  # stands in for re-reading the config file
        show_stats=False,
    )
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await jobs_screen(pilot, app)
        assert screen.loop.poller.state == "denied"
        await wait_for(pilot, lambda: "✗ token refused" in screen_text(app))
        configured["token"] = token  # the user fixes the config file, then presses r
        await pilot.press("r")
        await wait_for(pilot, lambda: screen.loop.poller.state == "connected")
        await wait_for(pilot, lambda: "● connected" in screen_text(app))
        assert len(scheduler.armed) == 1  # back to the regular loop
