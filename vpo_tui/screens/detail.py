"""One job: every field, progress as a bar and `N of M files`, and the log tail.

The job is polled at the status interval; its log at the log interval while the job runs, from
the line offset already held (only new lines travel), plus one final fetch once the job has
ended so its last lines are never missed. After that final fetch the screen stops polling.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Footer, Log, Static

from vpo.client import ApiError, AsyncVpoClient
from vpo.jobs import RUNNING
from vpo.jobtext import is_terminal
from vpo_tui.jobview import detail_lines, short_id
from vpo_tui.keys import KeyBinding
from vpo_tui.plaintext import safe_text, strip_escapes
from vpo_tui.poller import Outcome
from vpo_tui.screens.polled import (
    HELP_BINDING,
    PAUSE_BINDINGS,
    QUIT_BINDING,
    PolledScreen,
    refresh_binding,
)
from vpo_tui.widgets.job_progress import JobProgress
from vpo_tui.widgets.notice import Notice
from vpo_tui.widgets.status_line import StatusLine

GONE_MESSAGE = "This job no longer exists"
LOG_PAGE_LINES = 1000  # the API's maximum page
LOG_TAIL_LINES = 500  # how much history to show when the detail opens
LOG_MAX_PAGES_PER_POLL = 5  # a burst of output is caught up over a few polls, not all at once
LOG_MAX_PAGES_FINAL = 50
LOG_KEEP_LINES = 5000

# Keys the log widget handles itself: in the help (before End, which follows), not in BINDINGS.
LOG_KEYS = [
    ("↑ ↓", "scroll the log a line (scrolling up stops following)"),
    ("PgUp PgDn", "scroll the log a page"),
    ("Home", "the start of the log shown"),
]
FOLLOW_HELP = "jump to the end of the log and follow it"


def fields_text(job: dict[str, Any]) -> Text:
    text = Text(end="")
    for index, line in enumerate(detail_lines(job)):
        if index:
            text.append("\n")
        for position, (label, value) in enumerate(line):
            if position:
                text.append("   ")
            text.append(f"{label}: ", style="bold")
            text.append(value, style="bold red" if label == "Error" else "")
    return text


class DetailScreen(PolledScreen):
    DEFAULT_CSS = """
    DetailScreen #title {
        height: 1;
        background: $primary;
        text-style: bold;
    }
    DetailScreen #body {
        height: auto;
    }
    DetailScreen #fields {
        height: auto;
        max-height: 9;
        padding: 0 1;
    }
    DetailScreen JobProgress {
        padding: 0 1;
    }
    DetailScreen #gone {
        display: none;
        padding: 1 2;
        text-style: bold;
    }
    DetailScreen Log {
        height: 1fr;
        min-height: 4;
        border: round $secondary;
    }
    """

    # The footer shows them in this order; `end` is hidden there and placed early so its help
    # row ("End  f") comes right after the log keys.
    BINDINGS = [
        KeyBinding("escape", "back", "Back", help="back to the list (cursor on the same job)"),
        KeyBinding("end", "follow", "Follow", show=False, help=FOLLOW_HELP),
        refresh_binding(show=True),
        *PAUSE_BINDINGS,
        KeyBinding(
            "c",
            "cancel_job",
            "Cancel",
            help="cancel this job, when queued or running (asks first)",
        ),
        KeyBinding("f", "follow", "Follow", help=FOLLOW_HELP),
        HELP_BINDING,
        QUIT_BINDING,
    ]

    poll_name = "detail-poll"
    help_title = "Job detail keys"
    widget_keys = LOG_KEYS
    widget_keys_before = "follow"

    def __init__(self, job_id: str, client: AsyncVpoClient | None = None) -> None:
        super().__init__(client)
        self.job_id = job_id
        self.job: dict[str, Any] | None = None
        self.gone = False
        self.log_offset = 0
        self.log_started = False
        self.final_log_fetched = False
        self._etag: str | None = None
        self._next_log_at = 0.0
        # Follow mode: on until the reader scrolls up, on again once they are back at the end.
        # Kept here rather than read from the widget, because the end moves as lines arrive.
        self.follow_mode = True

    def compose(self) -> ComposeResult:
        yield Static(Text(f"Job {self.job_id[:8]}", end=""), id="title")
        with Vertical(id="body"):
            yield Static(Text("loading…"), id="fields")
            yield JobProgress(id="progress")
        yield Static(Text(f"{GONE_MESSAGE}.\n\nPress Escape to go back."), id="gone")
        yield Log(id="log", max_lines=LOG_KEEP_LINES, auto_scroll=True)
        yield Notice(id="notice")
        yield StatusLine(id="status")
        yield Footer(compact=True)

    @property
    def log_view(self) -> Log:
        return self.query_one("#log", Log)

    def on_mount(self) -> None:
        self.log_view.border_title = "Log"
        self.watch(self.log_view, "scroll_y", self._log_scrolled, init=False)
        self.start_polling()

    # -- polling -----------------------------------------------------------------------------

    async def fetch(self) -> Outcome:
        app = self.vpo_app
        client = self.client
        try:
            result = await client.get_job(self.job_id, etag=self._etag)
            self.loop.poller.note_hint(result.poll_interval_ms)  # type: ignore[union-attr]
        except ApiError as exc:
            if exc.status in (400, 404):
                self._show_gone()
                return "ok"
            raise
        changed = not result.not_modified
        if changed:
            self.job = result.data
            self._etag = result.etag
            self._show_job()
        assert self.job is not None
        terminal = is_terminal(self.job)
        now = app.clock()
        log_due = (
            not self.log_started
            or (self.job.get("status") == RUNNING and now >= self._next_log_at)
            or (terminal and not self.final_log_fetched)
        )
        if log_due:
            # The final fetch reads to the end, however much the job wrote at the last moment.
            pages = LOG_MAX_PAGES_FINAL if terminal else LOG_MAX_PAGES_PER_POLL
            if await self._fetch_log(pages):
                changed = True
            self._next_log_at = now + app.log_interval_ms / 1000
            if terminal:
                self.final_log_fetched = True
        if terminal and self.final_log_fetched:
            # docs/design.md §7: a terminal job's view stops polling after its final log fetch.
            self.loop.stop()  # type: ignore[union-attr]
            self._show_follow()
        self.refresh_bindings()
        if changed:
            self.last_change = datetime.now().astimezone()
        return "ok" if changed else "not_modified"

    async def _fetch_log(self, max_pages: int) -> bool:
        """Fetch lines past the held offset; True when new lines arrived."""
        client = self.client
        if not self.log_started:
            first = (await client.get_logs(self.job_id, lines=1, offset=0)).value()
            self.log_offset = max(0, first.total_lines - LOG_TAIL_LINES)
            self.log_started = True
            if self.log_offset:
                self._write_log([f"… {self.log_offset} earlier lines not shown"])
        got_lines = False
        for _ in range(max_pages):
            page = (
                await client.get_logs(self.job_id, lines=LOG_PAGE_LINES, offset=self.log_offset)
            ).value()
            if page.lines:
                self._write_log([strip_escapes(line) for line in page.lines])
                self.log_offset = page.offset + len(page.lines)
                got_lines = True
            if not page.has_more or not page.lines:
                break
        self._show_follow()
        return got_lines

    def _show_job(self) -> None:
        job = self.job
        assert job is not None
        self.query_one("#title", Static).update(
            Text(f"Job {short_id(job)} · {safe_text(job.get('status'))}", end="")
        )
        self.query_one("#fields", Static).update(fields_text(job))
        self.query_one(JobProgress).show_job(job)

    def _show_gone(self) -> None:
        self.gone = True
        self.query_one("#body").display = False
        self.log_view.display = False
        self.query_one("#gone").display = True
        self.query_one("#title", Static).update(Text(f"Job {self.job_id[:8]} · gone", end=""))
        if self.loop is not None:
            self.loop.stop()

    def _write_log(self, lines: list[str]) -> None:
        self.log_view.write_lines(lines, scroll_end=False)
        if self.follow_mode:
            # After the refresh: the log's height and line count are only settled then.
            self.log_view.call_after_refresh(self._scroll_log_to_end)

    def _scroll_log_to_end(self) -> None:
        self.log_view.scroll_end(animate=False, immediate=True, x_axis=False)

    def _log_scrolled(self, *_args: object) -> None:
        self.follow_mode = self.log_view.is_vertical_scroll_end
        self._show_follow()

    def _show_follow(self, *_args: object) -> None:
        """The log's title says what it does: only a running job's log is followed."""
        finished = self.job is not None and is_terminal(self.job) and self.final_log_fetched
        if finished:
            title = "Log (job ended)" if self.follow_mode else "Log (job ended; End: last line)"
        elif self.follow_mode:
            title = "Log (following)"
        else:
            title = "Log (scrolled; End follows)"
        if self.log_view.border_title != title:
            self.log_view.border_title = title

    def stopped_note(self) -> str:
        if self.gone:
            return "job gone: polling stopped"
        if self.loop is not None and self.loop.poller.stopped:
            return "job finished: polling stopped"
        return ""

    # -- actions -----------------------------------------------------------------------------

    def action_back(self) -> None:
        self.dismiss(None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_job":
            return self.job is not None and not self.gone and not is_terminal(self.job)
        return super().check_action(action, parameters)

    def action_follow(self) -> None:
        self.follow_mode = True
        self._scroll_log_to_end()
        self._show_follow()

    def action_cancel_job(self) -> None:
        if self.job is not None and not self.gone:
            self.ask_to_cancel(self.job_id, self.job)
