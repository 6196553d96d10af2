"""One job: every field, progress as a bar and `N of M files`, a rate and time left once they
are stable (vpo_tui/eta.py), the log tail, and the per-file errors as they appear.

The job is polled at the status interval; its log at the log interval while the job runs, from
the line offset already held (only new lines travel), plus one final fetch once the job has
ended so its last lines are never missed. After that final fetch the screen stops polling.
Errors are fetched when the job's `errors_count` grows past the ones held, from that offset, a
page at a time. `L` opens the log full screen (vpo_tui/screens/log_view.py).
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
from vpo.jobtext import duration_text, is_terminal
from vpo.pathtext import not_utf8_note
from vpo_tui.eta import Estimate, EtaEstimator, rate_text
from vpo_tui.jobview import detail_lines, short_id
from vpo_tui.keys import KeyBinding
from vpo_tui.merged_list import row_key
from vpo_tui.plaintext import safe_text, strip_escapes
from vpo_tui.poller import Outcome
from vpo_tui.screens.polled import (
    COPY_ID_BINDING,
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
ERRORS_PAGE = 100  # the API's largest page of errors
ERRORS_MAX_PAGES_PER_POLL = 5
ERRORS_KEEP = 2000  # the panel holds this many; `vpo jobs errors` pages through all

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
    DetailScreen #eta {
        height: 1;
        padding: 0 1;
        color: $text-muted;
    }
    DetailScreen Log {
        height: 1fr;
        min-height: 4;
        border: round $secondary;
    }
    DetailScreen #errors {
        height: auto;
        max-height: 8;
        min-height: 3;
        border: round $error;
        display: none;
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
        KeyBinding("L", "full_log", "Full log", help="the log full screen: wrap, search, $PAGER"),
        COPY_ID_BINDING,
        HELP_BINDING,
        QUIT_BINDING,
    ]

    poll_name = "detail-poll"
    help_title = "Job detail keys"
    widget_keys = LOG_KEYS
    widget_keys_before = "follow"

    def __init__(
        self, job_id: str, client: AsyncVpoClient | None = None, *, daemon: str | None = None
    ) -> None:
        """`client` and `daemon` name the daemon that owns the job when the list shows several
        (its name goes in the title, and `y` copies the `NAME:ID` the CLI takes)."""
        super().__init__(client)
        self.job_id = job_id
        self.daemon = daemon
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
        self.eta = EtaEstimator()
        self.estimate = Estimate(None, None)
        self.errors_held = 0  # per-file errors fetched so far (the panel's lines)
        self.errors_total = 0

    def compose(self) -> ComposeResult:
        yield Static(Text(f"Job {self.job_id[:8]}{self._on_daemon()}", end=""), id="title")
        with Vertical(id="body"):
            yield Static(Text("loading…"), id="fields")
            yield JobProgress(id="progress")
            yield Static("", id="eta")
        yield Static(Text(f"{GONE_MESSAGE}.\n\nPress Escape to go back."), id="gone")
        yield Log(id="log", max_lines=LOG_KEEP_LINES, auto_scroll=True)
        yield Log(id="errors", max_lines=ERRORS_KEEP, auto_scroll=False)
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
        self._sample_progress(now)
        if await self._fetch_errors():
            changed = True
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
            Text(
                f"Job {short_id(job)} · {safe_text(job.get('status'))}{self._on_daemon()}",
                end="",
            )
        )
        self.query_one("#fields", Static).update(fields_text(job))
        self.query_one(JobProgress).show_job(job)

    # -- rate and time left ------------------------------------------------------------------

    def _sample_progress(self, now: float) -> None:
        """Every answered poll is a sample (a 304 too: no progress is news), while running."""
        job = self.job
        assert job is not None
        if job.get("status") != RUNNING:
            self.estimate = Estimate(None, None)
        else:
            done = job.get("processed_count")
            total = job.get("total_count")
            self.estimate = self.eta.add(
                now,
                done if isinstance(done, int) else 0,
                total if isinstance(total, int) else None,
            )
        self._show_eta()

    def _show_eta(self) -> None:
        parts = []
        if self.estimate.rate_per_s is not None:
            parts.append(rate_text(self.estimate.rate_per_s))
        if self.estimate.seconds_left is not None:
            left = duration_text(int(self.estimate.seconds_left)) or "under a second"
            parts.append(f"about {left} left")
        eta = self.query_one("#eta", Static)
        eta.update(Text(" · ".join(parts), end=""))
        eta.display = bool(parts)

    # -- per-file errors ---------------------------------------------------------------------

    @property
    def errors_view(self) -> Log:
        return self.query_one("#errors", Log)

    async def _fetch_errors(self) -> bool:
        """Fetch the errors past those held, while the job's count says there are more."""
        job = self.job
        assert job is not None
        count = job.get("errors_count")
        if not isinstance(count, int) or count <= self.errors_held:
            return False
        got = False
        for _ in range(ERRORS_MAX_PAGES_PER_POLL):
            if self.errors_held >= ERRORS_KEEP:
                break
            page = await self.client.get_errors(
                self.job_id, limit=ERRORS_PAGE, offset=self.errors_held
            )
            errors = page.get("errors", [])
            self.errors_total = int(page.get("total", count))
            if not errors:
                break
            self.errors_view.write_lines([error_line(error) for error in errors])
            self.errors_held += len(errors)
            got = True
            if self.errors_held >= self.errors_total:
                break
        self._show_errors_title()
        return got

    def _show_errors_title(self) -> None:
        view = self.errors_view
        total = max(self.errors_total, self.errors_held)
        view.display = total > 0
        more = total - self.errors_held
        title = f"Errors ({total})"
        if more > 0:
            title += f" · {more} more: vpo jobs errors {self.job_id[:8]}"
        view.border_title = title

    def _on_daemon(self) -> str:
        return f" · on {safe_text(self.daemon)}" if self.daemon else ""

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

    def action_copy_id(self) -> None:
        self.copy_job_id(row_key(self.daemon, self.job_id) if self.daemon else self.job_id)

    def action_full_log(self) -> None:
        from vpo_tui.screens.log_view import LogViewScreen  # lazy: opened on a key press

        self.app.push_screen(LogViewScreen(self.job_id, list(self.log_view.lines), self.client))


def error_line(error: dict[str, Any]) -> str:
    """One error as `path: message` (the path escaped as the API sends it, with its note)."""
    path = safe_text(error.get("path"))
    note = not_utf8_note(error.get("path_is_utf8"))
    if note:
        path = f"{path} ({note})"
    return f"{path}: {safe_text(error.get('message'))}"
