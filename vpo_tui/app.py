"""`vpo-tui`: the Textual client of the VPO daemon (docs/design.md §8).

The app owns what all screens share: the API client, the polling settings read from the daemon
at start, the pause reasons that apply to every polling loop (terminal focus lost, the user's
`p`, polling disabled on the daemon), and clean exits on q and Ctrl+C. SIGTERM, SIGHUP and a
terminal that goes away reach it through `ExitGuard` (installed by `main()` before anything
else), which also ends a stuck exit after a hangup. Each screen runs its own `PollLoop`, and
only the visible one polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import signal
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from textual.app import App
from textual.binding import Binding
from textual.driver import Driver

from vpo.client import ApiError, AsyncVpoClient
from vpo_tui.exit_guard import ExitGuard
from vpo_tui.options import parse_options
from vpo_tui.poll_loop import PollLoop, Scheduler
from vpo_tui.poller import load_rules
from vpo_tui.screens.jobs import JobsScreen
from vpo_tui.terminal_driver import hangup_safe_driver


class VpoTuiApp(App[int]):
    TITLE = "VPO"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(
        self,
        client: AsyncVpoClient,
        *,
        url: str | None = None,
        interval_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        scheduler: Scheduler | None = None,
        token_source: Callable[[], str | None] | None = None,
        exit_guard: ExitGuard | None = None,
        driver_class: type[Driver] | None = None,
        feeds: Sequence[tuple[str, AsyncVpoClient]] = (),
        osc52: bool = False,
        show_stats: bool = True,
        stats_scheduler: Scheduler | None = None,
    ) -> None:
        """`clock` and `scheduler` are injectable so tests can check minute-long backoffs.

        `token_source` re-reads the token (flag > environment > config file) when the user
        refreshes after a refusal, so a fixed config file works without a restart.
        `exit_guard` (from `main()`) brings signals and a lost terminal to `exit`.
        `feeds` (name, client) of several daemons shows them in one list (`--all`).
        `osc52`: `y` copies a job id through the terminal. `show_stats`: the counters line
        over the list, polled by its own loop on `stats_scheduler` (tests that count the
        list's polls turn it off).
        """
        super().__init__(driver_class=driver_class)
        self.client = client
        self.url = url or client.base_url
        self.rules = load_rules()
        self.interval_override_ms = None if interval_s is None else interval_s * 1000
        self.interval_ms = self.rules.clamp_interval_ms(
            self.interval_override_ms or self.rules.interval_default_ms
        )
        self.log_interval_ms = self.rules.log_interval_ms(self.interval_ms, None)
        # The daemon's configured interval: its X-Poll-Interval hint above this means "idle".
        self.busy_interval_ms = self.interval_ms
        self.polling_enabled = True
        self.polling_config: dict[str, Any] | None = None
        self.clock = clock
        self.scheduler = scheduler
        self.token_source = token_source
        self.pause_reasons: set[str] = set()
        self.loops: list[PollLoop] = []
        self.exit_guard = exit_guard
        self.feeds = list(feeds)
        self.osc52 = osc52
        self.show_stats = show_stats
        self.stats_scheduler = stats_scheduler

    # -- lifecycle ---------------------------------------------------------------------------

    def on_mount(self) -> None:
        if self.feeds:
            # Several daemons: imported only in this mode, so one daemon starts as lean as ever.
            from vpo_tui.screens.multi_jobs import MultiJobsScreen

            self.push_screen(MultiJobsScreen(self.feeds))
        else:
            self.push_screen(JobsScreen())
        if self.exit_guard is not None:
            # Leaving through App.exit lets the driver restore the terminal (alternate screen,
            # cursor, mouse and focus reporting) exactly as on `q`.
            self.exit_guard.attach(lambda: self.exit(0), asyncio.get_running_loop())

    async def on_unmount(self) -> None:
        if self.exit_guard is not None:
            self.exit_guard.detach()
        # Closing a client whose daemon vanished must not spoil the exit.
        with contextlib.suppress(Exception):
            await self.client.aclose()
        for _name, client in self.feeds:
            if client is not self.client:
                with contextlib.suppress(Exception):
                    await client.aclose()

    # -- polling settings --------------------------------------------------------------------

    async def ensure_polling_config(self) -> None:
        """Read GET /api/config/polling once (retried by the next poll if the daemon is down)."""
        if self.polling_config is not None:
            return
        try:
            config = await self.client.polling_config()
        except ApiError as exc:
            if exc.status >= 500 or exc.status in (401, 403):
                raise
            config = {}  # an older daemon without the endpoint: the rules' defaults
        self.apply_polling_config(config)

    def apply_polling_config(self, config: dict[str, Any]) -> None:
        self.polling_config = dict(config)
        daemon_interval = config.get("interval_ms")
        if self.interval_override_ms is not None:
            interval = self.interval_override_ms
        elif isinstance(daemon_interval, int | float):
            interval = daemon_interval
        else:
            interval = self.rules.interval_default_ms
        self.interval_ms = self.rules.clamp_interval_ms(interval)
        log_interval = config.get("log_interval_ms")
        self.log_interval_ms = self.rules.log_interval_ms(
            self.interval_ms, log_interval if isinstance(log_interval, int | float) else None
        )
        self.busy_interval_ms = self.rules.clamp_interval_ms(
            daemon_interval if isinstance(daemon_interval, int | float) else self.interval_ms
        )
        for loop in self.loops:
            loop.poller.set_interval_ms(self.interval_ms)
            loop.poller.set_busy_interval_ms(self.busy_interval_ms)
        self.polling_enabled = config.get("enabled", True) is not False
        if not self.polling_enabled:
            self.pause_all("disabled")

    def reload_token(self) -> None:
        """Pick up a changed token before retrying a refused request."""
        if self.token_source is None:
            return
        try:
            token = self.token_source()
        except Exception as exc:  # a broken config file: say so, keep the old token
            self.notify(f"Could not re-read the token: {exc}", severity="warning", markup=False)
            return
        if token != self.client.token:
            self.client.set_token(token)

    def refresh_loop(self, loop: PollLoop) -> None:
        """The user's `r`: poll now even while paused; after a refusal, re-read the token."""
        if loop.poller.denied:
            self.reload_token()
        loop.poll_now(force=True)

    # -- pausing every loop ------------------------------------------------------------------

    def register_loop(self, loop: PollLoop) -> None:
        self.loops.append(loop)
        loop.poller.set_interval_ms(self.interval_ms)
        loop.poller.set_busy_interval_ms(self.busy_interval_ms)
        for reason in self.pause_reasons:
            loop.pause(reason)

    def unregister_loop(self, loop: PollLoop) -> None:
        if loop in self.loops:
            self.loops.remove(loop)

    def pause_all(self, reason: str) -> None:
        self.pause_reasons.add(reason)
        for loop in list(self.loops):
            loop.pause(reason)

    def resume_all(self, reason: str) -> None:
        self.pause_reasons.discard(reason)
        for loop in list(self.loops):
            loop.resume(reason)

    def toggle_user_pause(self) -> None:
        if "user" in self.pause_reasons:
            self.resume_all("user")
        else:
            self.pause_all("user")

    def watch_app_focus(self, focused: bool) -> None:
        # Terminal focus reporting (Textual turns it on) drives this: no one looking, no polls.
        if focused:
            self.resume_all("focus")
        else:
            self.pause_all("focus")


def main(argv: Sequence[str] | None = None) -> None:
    """Console script entry point `vpo-tui`."""
    # First of all, so that no hangup or SIGTERM goes unheard while the app starts.
    guard = ExitGuard()
    guard.install()
    options = parse_options(argv)
    # `kill -USR1` dumps every thread's stack: how to see where a frozen client is stuck.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    feeds = [
        (target.name or target.url, AsyncVpoClient(target.url, target.token))
        for target in options.targets
    ]
    client = feeds[0][1] if feeds else AsyncVpoClient(options.url, options.token)
    app = VpoTuiApp(
        client,
        url=options.url,
        interval_s=options.interval_s,
        token_source=lambda: parse_options(argv).token,
        exit_guard=guard,
        driver_class=hangup_safe_driver(guard.report_terminal_lost),
        feeds=feeds,
        osc52=options.osc52,
    )
    app.run(mouse=options.mouse)
    sys.exit(app.return_code or 0)


if __name__ == "__main__":
    main()
