"""What every polled screen shares: its loop's lifecycle, the status line, the refusal notice,
refresh and pause keys, cancelling a job (ask, send, say, follow it closely).

A subclass provides `fetch()` (one poll: request, apply, return the outcome) and may add to
`stopped_note()`, `state_shown()`, `check_action()` and `cancel_answered()`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from textual.screen import Screen

from vpo.client import ApiError, AsyncVpoClient, VpoError
from vpo.jobtext import is_terminal
from vpo_tui.jobview import is_retryable, short_id
from vpo_tui.keys import KeyBinding, help_rows
from vpo_tui.plaintext import safe_text
from vpo_tui.poll_loop import PollLoop
from vpo_tui.poller import Outcome, Poller
from vpo_tui.widgets.notice import Notice
from vpo_tui.widgets.status_line import (
    StatusFacts,
    StatusLine,
    denied_advice,
    denied_words,
    facts_from,
)

if TYPE_CHECKING:
    from vpo_tui.app import VpoTuiApp

# After a cancel the daemon ends a running job within about a second: follow it that closely,
# a bounded number of times (never a fast loop).
CANCEL_FOLLOW_POLLS = 10
CANCEL_FOLLOW_DELAY_S = 0.5


# The keys every polled screen has, declared once; each screen places them in its BINDINGS
# (the order there is the footer's order).
def refresh_binding(*, show: bool) -> KeyBinding:
    return KeyBinding(
        "r",
        "refresh",
        "Refresh",
        show=show,
        help="refresh now (also retries after a refused token)",
    )


PAUSE_BINDINGS = (
    KeyBinding("p", "pause", "Pause", help="pause / resume polling"),
    KeyBinding("p", "resume", "Resume", help="pause / resume polling"),
)
HELP_BINDING = KeyBinding("question_mark", "help", "Keys", help="this help")
COPY_ID_BINDING = KeyBinding(
    "y",
    "copy_id",
    "Copy id",
    show=False,
    help="copy the job id (OSC 52 if on, else shown)",
)
# Ctrl+C is the app's own binding; the help names it beside q.
QUIT_BINDING = KeyBinding("q", "app.quit", "Quit", help="quit", help_keys="q  Ctrl+C")


class PolledScreen(Screen):
    """A screen with one `PollLoop`, started on mount and stopped on unmount."""

    poll_name = "poll"
    help_title = "Keys"
    # Keys a widget handles itself (not bindings), for the help, placed before the row of the
    # action `widget_keys_before` (at the top when None).
    widget_keys: Sequence[tuple[str, str]] = ()
    widget_keys_before: str | None = None

    def __init__(self, client: AsyncVpoClient | None = None) -> None:
        super().__init__()
        self.loop: PollLoop | None = None
        self.last_change: datetime | None = None
        self._client = client  # another daemon's client (several daemons in one view)

    @property
    def client(self) -> AsyncVpoClient:
        """The daemon this screen talks to: its own, or the app's."""
        return self._client if self._client is not None else self.vpo_app.client

    def client_for_job(self, job_id: str) -> tuple[AsyncVpoClient, str]:
        """Where a job of this screen lives: (client, id on that daemon). A screen over several
        daemons keys its rows by daemon and id and overrides this."""
        return self.client, job_id

    @property
    def vpo_app(self) -> VpoTuiApp:
        return self.app  # type: ignore[return-value]

    @property
    def token_sent(self) -> bool:
        return self.client.token is not None

    # -- lifecycle ---------------------------------------------------------------------------

    async def fetch(self) -> Outcome:
        raise NotImplementedError

    def start_polling(self) -> None:
        """Call from `on_mount`, once the widgets exist."""
        app = self.vpo_app
        self.loop = PollLoop(
            self,
            Poller(app.interval_ms, clock=app.clock),
            self.fetch,
            on_state=self.show_state,
            scheduler=app.scheduler,
            name=self.poll_name,
        )
        self.query_one(StatusLine).bind(self.status_facts)
        app.register_loop(self.loop)
        self.loop.start()

    def on_unmount(self) -> None:
        if self.loop is not None:
            self.loop.stop()
            self.vpo_app.unregister_loop(self.loop)

    # -- what the screen says about its loop --------------------------------------------------

    def stopped_note(self) -> str:
        return ""

    def status_facts(self) -> StatusFacts:
        assert self.loop is not None
        return facts_from(
            self.loop.poller,
            last_change=self.last_change,
            error=self.loop.last_error,
            stopped_note=self.stopped_note(),
            denied_words=denied_words(self.loop.denied_status, self.token_sent),
        )

    def show_state(self) -> None:
        """After every request and pause/resume: status line, refusal notice, footer keys."""
        # Also called while the screen is being torn down: no widget, nothing to show.
        for line in self.query(StatusLine):
            line.refresh_from()
        if not self.is_mounted or self.loop is None:
            return
        advice = None
        if self.loop.poller.denied:
            advice = denied_advice(self.loop.denied_status, self.token_sent, self.loop.last_error)
        for notice in self.query(Notice):
            notice.show_message(advice)
        self.state_shown()
        self.refresh_bindings()

    def state_shown(self) -> None:
        """Hook: what else follows the connection state on this screen."""

    # -- keys --------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide the keys that do nothing now, so the footer shows what works."""
        if action == "pause":
            return "user" not in self.vpo_app.pause_reasons
        if action == "resume":
            return "user" in self.vpo_app.pause_reasons
        return True

    def action_help(self) -> None:
        rows = help_rows(self.BINDINGS, self.widget_keys, extra_before=self.widget_keys_before)
        from vpo_tui.screens.help import HelpScreen  # lazy: not needed for the first frame

        self.app.push_screen(HelpScreen(self.help_title, rows))

    def action_refresh(self) -> None:
        if self.loop is not None:
            self.vpo_app.refresh_loop(self.loop)

    def action_pause(self) -> None:
        self.vpo_app.toggle_user_pause()
        self.refresh_bindings()

    def action_resume(self) -> None:
        self.vpo_app.toggle_user_pause()
        self.refresh_bindings()

    def follow_cancel(self) -> None:
        """Poll closely until a cancelled job has ended (the subclass ends it with `hurry(0)`)."""
        if self.loop is not None:
            self.loop.poller.hurry(CANCEL_FOLLOW_POLLS, CANCEL_FOLLOW_DELAY_S)

    # -- cancelling a job --------------------------------------------------------------------

    def ask_to_cancel(self, job_id: str, job: dict[str, Any]) -> None:
        """Ask, then cancel job `job_id` (shown as `job`). The id is captured now: a poll that
        moves the cursor or changes the job meanwhile cannot change which job a "yes" cancels."""
        if is_terminal(job):
            self.notify(f"Job {short_id(job)} has already finished.", markup=False)
            return
        from vpo_tui.screens.confirm import (  # lazy: first opened here
            ConfirmScreen,
            cancel_question,
        )

        self.app.push_screen(
            ConfirmScreen(cancel_question(job)),
            callback=lambda confirmed: self._cancel_confirmed(job_id, bool(confirmed)),
        )

    def _cancel_confirmed(self, job_id: str, confirmed: bool) -> None:
        if confirmed:
            self.run_worker(self._cancel(job_id), group="cancel", exit_on_error=False)

    async def _cancel(self, job_id: str) -> None:
        try:
            client, daemon_job_id = self.client_for_job(job_id)
            job = await client.cancel_job(daemon_job_id)
        except ApiError as exc:
            self.notify(safe_text(exc.message), severity="warning", markup=False)
        except VpoError as exc:
            self.notify(safe_text(exc), severity="error", markup=False)
        else:
            self.cancel_answered(job_id, job)
        if self.loop is not None:
            self.loop.poll_now()

    def cancel_answered(self, job_id: str, job: dict[str, Any]) -> None:
        """The daemon took the cancel (`job` is its answer): say so, and follow the job while
        the runner stops it (within about a second), not at the next tick."""
        self.notify("Cancel requested.", markup=False)
        self.follow_cancel()

    # -- retrying a job ----------------------------------------------------------------------

    def ask_to_retry(self, job_id: str, job: dict[str, Any]) -> None:
        """Ask, then retry job `job_id`; the id is captured now, as for a cancel."""
        if not is_retryable(job):
            self.notify(
                f"Job {short_id(job)} is {safe_text(job.get('status'))}: only a failed or "
                "cancelled job is retried here.",
                markup=False,
            )
            return
        from vpo_tui.screens.confirm import ConfirmScreen, retry_question  # lazy

        self.app.push_screen(
            ConfirmScreen(retry_question(job), yes_variant="primary"),
            callback=lambda confirmed: self._retry_confirmed(job_id, bool(confirmed)),
        )

    def _retry_confirmed(self, job_id: str, confirmed: bool) -> None:
        if confirmed:
            self.run_worker(self._retry(job_id), group="retry", exit_on_error=False)

    async def _retry(self, job_id: str) -> None:
        try:
            # The daemon that owns the job retries it (several daemons: `job_id` is NAME:ID).
            client, daemon_job_id = self.client_for_job(job_id)
            job = await client.retry_job(daemon_job_id)
        except ApiError as exc:
            self.notify(safe_text(exc.message), severity="warning", markup=False)
        except VpoError as exc:
            self.notify(safe_text(exc), severity="error", markup=False)
        else:
            self.retry_answered(job_id, job)

    def retry_answered(self, job_id: str, job: dict[str, Any]) -> None:
        """The daemon queued the retry of `job_id` (`job` is the new job)."""
        self.notify(f"Retry queued as job {short_id(job)}.", markup=False)

    # -- copying a job id --------------------------------------------------------------------

    def copy_job_id(self, job_id: str) -> None:
        """OSC 52 when the user turned it on (the terminal puts it on the clipboard, also over
        SSH); otherwise the id in a notice, to select and copy by hand. Off by default: some
        terminals show the escape sequence as garbage, others ask before allowing it."""
        if self.vpo_app.osc52:
            self.app.copy_to_clipboard(job_id)
            self.notify(f"Copied {job_id} (OSC 52).", markup=False)
        else:
            self.notify(f"Job id: {job_id}", title="Copy it by hand", timeout=30, markup=False)
