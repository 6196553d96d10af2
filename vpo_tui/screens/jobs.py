"""The jobs list: a live DataTable with filters, search, sort and pages kept across polls."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.events import Key, Resize
from textual.widgets import DataTable, Footer, Input, Static

from vpo.client import JobListParams
from vpo.jobtext import is_terminal
from vpo_tui.jobview import COLUMNS, is_retryable, job_cells, short_id, target_width_for
from vpo_tui.keys import KeyBinding
from vpo_tui.listquery import ListQuery, last_page
from vpo_tui.plaintext import safe_text
from vpo_tui.poll_loop import PollLoop
from vpo_tui.poller import CONNECTED, Outcome
from vpo_tui.screens.polled import (
    COPY_ID_BINDING,
    HELP_BINDING,
    PAUSE_BINDINGS,
    QUIT_BINDING,
    PolledScreen,
    refresh_binding,
)
from vpo_tui.widgets.job_table import JobTable
from vpo_tui.widgets.notice import Notice
from vpo_tui.widgets.stats_line import StatsLine
from vpo_tui.widgets.status_line import StatusLine

# Keys the table handles itself: in the help, not in BINDINGS.
TABLE_KEYS = [
    ("↑ ↓ PgUp PgDn", "move in the list"),
    ("Home  End", "first / last job of the page"),
    ("Enter", "open the job's detail and log"),
]


@dataclass(frozen=True)
class NewJob:
    """A job made here (New scan, retry): its row key, and the last request its loop had
    started before the submit. Only an answer to a later request can tell whether the list
    shows it; an older one may have left the daemon before the job existed."""

    key: str
    after_request: int
    label: str  # its short id, for the notice


class JobsScreen(PolledScreen):
    DEFAULT_CSS = """
    JobsScreen #title, JobsScreen #filters {
        height: 1;
    }
    JobsScreen #title {
        background: $primary;
        color: $text;
        text-style: bold;
    }
    JobsScreen #filters {
        background: $boost;
    }
    JobsScreen JobTable {
        height: 1fr;
    }
    JobsScreen #empty {
        height: auto;
        padding: 1 2;
        color: $text-muted;
        display: none;
    }
    JobsScreen #search {
        display: none;
        dock: bottom;
    }
    """

    # The footer shows the keys that matter here (Enter is the table's) and must fit 80 columns;
    # `check_action` hides the ones that do nothing now (Pause vs Resume, Cancel on a finished
    # job). The help screen lists every key; `r` is there and in the status line when it helps.
    BINDINGS = [
        refresh_binding(show=False),
        *PAUSE_BINDINGS,
        KeyBinding("n", "new_scan", "New", help="new scan: pick a folder (Tab completes)"),
        KeyBinding(
            "c",
            "cancel_job",
            "Cancel",
            help="cancel a queued or running job (asks first)",
        ),
        KeyBinding(
            "R",
            "retry_job",
            "Retry",
            help="retry a failed or cancelled job (asks first)",
        ),
        KeyBinding("s", "cycle_status", "Status", help="filter by status (cycles)"),
        KeyBinding("t", "cycle_type", "Type", help="filter by type (cycles)"),
        # Not in the footer (80 columns are full): "/" is where every pager searches.
        KeyBinding(
            "slash",
            "search",
            "Search",
            show=False,
            help="search paths (Enter applies, empty clears)",
        ),
        KeyBinding("o", "cycle_sort", "Sort", help="sort by the next column"),
        KeyBinding("O", "toggle_order", "Order", show=False, help="reverse the sort order"),
        KeyBinding(
            "left_square_bracket",
            "page(-1)",
            "Previous page",
            show=False,
            help="previous / next page",
        ),
        KeyBinding(
            "right_square_bracket",
            "page(1)",
            "Page",
            key_display="[ ]",
            help="previous / next page",
        ),
        COPY_ID_BINDING,
        HELP_BINDING,
        QUIT_BINDING,
    ]

    poll_name = "jobs-poll"
    help_title = "Jobs screen keys"
    widget_keys = TABLE_KEYS

    def __init__(self) -> None:
        super().__init__()
        self.query_state = ListQuery()
        self.total: int | None = None
        self.jobs_by_id: dict[str, dict[str, Any]] = {}
        self.page_jobs: list[dict[str, Any]] = []
        self.seen_types: set[str] = set()
        self.target_width = target_width_for(80)
        self._etag: str | None = None
        self._etag_query: ListQuery | None = None
        self.shown_query: ListQuery | None = None  # the query the rows on screen answer
        self.cancelling: set[str] = set()  # jobs cancelled from here, followed closely
        self.select_when_shown: NewJob | None = None  # a job made here (new scan, retry)

    # -- layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(Text(f"VPO jobs · {safe_text(self.vpo_app.url)}", end=""), id="title")
        if self.vpo_app.show_stats:
            yield StatsLine(id="stats")
        yield Static("", id="filters")
        yield JobTable(id="jobs")
        yield Static("", id="empty")
        yield Input(placeholder="search paths (Enter applies, Escape cancels)", id="search")
        yield Notice(id="notice")
        yield StatusLine(id="status")
        yield Footer(compact=True)

    @property
    def table(self) -> JobTable:
        return self.query_one(JobTable)

    @property
    def status_line(self) -> StatusLine:
        return self.query_one(StatusLine)

    def on_mount(self) -> None:
        self.target_width = target_width_for(self.size.width)
        self.table.set_target_width(self.target_width)
        self._show_filters()
        self.start_polling()
        self.table.focus()

    def on_resize(self, event: Resize) -> None:
        width = target_width_for(self.size.width)
        if width != self.target_width:
            self.target_width = width
            self.table.set_target_width(width)
            self._show_rows()

    # -- polling -----------------------------------------------------------------------------

    async def fetch(self) -> Outcome:
        app = self.vpo_app
        request = self.loop.requests_started  # type: ignore[union-attr]
        await app.ensure_polling_config()
        query = self.query_state
        etag = self._etag if self._etag_query == query else None
        result = await app.client.list_jobs(JobListParams(**query.api_params()), etag=etag)
        self.loop.poller.note_hint(result.poll_interval_ms)  # type: ignore[union-attr]
        if query != self.query_state:
            # The user changed the query while this request was out; its answer is for the old
            # one. The loop was told to poll again right after this request.
            return "ok"
        if result.not_modified:
            self._select_new_job(request)  # filtered away: the page did not change
            return "not_modified"
        page = result.data
        assert page is not None
        if page.total and query.page > last_page(page.total):
            # The page the user was on no longer exists (jobs pruned or filtered away).
            self.query_state = query.with_page(query.page, page.total)
            self.loop.poll_now()  # type: ignore[union-attr]
            return "ok"
        self._etag, self._etag_query = result.etag, query
        self.shown_query = query
        self.total = page.total
        self.page_jobs = list(page.jobs)
        self.jobs_by_id = {str(job.get("id")): job for job in self.page_jobs}
        self.seen_types.update(safe_text(job.get("job_type")) for job in self.page_jobs)
        if self._show_rows():
            self.last_change = datetime.now().astimezone()
        self._show_filters()
        self._follow_cancels()
        self._select_new_job(request)
        self.refresh_bindings()
        return "ok"

    def _follow_cancels(self) -> None:
        """Stop polling closely once every job cancelled from here has ended."""
        if not self.cancelling:
            return
        self.cancelling = {
            job_id
            for job_id in self.cancelling
            if job_id in self.jobs_by_id and not is_terminal(self.jobs_by_id[job_id])
        }
        if not self.cancelling and self.loop is not None:
            self.loop.poller.hurry(0, 0)

    def _select_new_job(self, request: int) -> None:
        """Put the cursor on the job just made here, once the answer to `request` (a number
        from the loop's `requests_started`) has been applied and was sent after the job."""
        new = self.select_when_shown
        if new is None or request <= new.after_request:
            return
        self.select_when_shown = None
        if new.key in self.table.job_ids:
            self.table.move_cursor(row=self.table.get_row_index(new.key))
        else:
            self.notify(
                f"Job {new.label} was queued; the filters hide it from this page.",
                markup=False,
            )

    def _show_rows(self) -> bool:
        """Apply the page to the table; True when anything visible changed."""
        now = datetime.now().astimezone()
        rows = [
            (str(job.get("id")), job_cells(job, target_width=self.target_width, now=now))
            for job in self.page_jobs
        ]
        patch = self.table.apply_rows(rows)
        self._show_empty_note()
        return not patch.is_empty or self.last_change is None

    def _show_empty_note(self) -> None:
        note = self.query_one("#empty", Static)
        if self.total == 0 and not self.page_jobs:
            has_filters = self.query_state != ListQuery(
                sort=self.query_state.sort, order=self.query_state.order
            )
            message = (
                "No jobs match these filters. s / t / / change them."
                if has_filters
                else "No jobs yet. Press n to start a scan (or: vpo scan PATH --async)."
            )
            note.update(Text(message))
            note.display = True
        else:
            note.display = False

    def state_shown(self) -> None:
        self._show_filters()

    def _show_filters(self) -> None:
        if not self.is_mounted:
            return
        text = self.query_state.describe(self.total, len(self.page_jobs))
        if self.loop is not None and self.shown_query not in (None, self.query_state):
            # The rows still answer the old query: say why instead of pretending.
            poller = self.loop.poller
            if poller.paused:
                text += "  · filter applies when polling resumes"
            elif poller.state != CONNECTED or poller.is_stale():
                text += "  · filter applies when connected"
        for bar in self.query("#filters").results(Static):
            bar.update(Text(text, no_wrap=True, overflow="ellipsis", end=""))

    def _change_query(self, query: ListQuery) -> None:
        if query == self.query_state:
            return
        self.query_state = query
        self._show_filters()
        if self.loop is not None:
            self.loop.poll_now()

    # -- actions -----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("cancel_job", "retry_job"):
            job = self.selected_job()
            if job is None:
                return False
            return not is_terminal(job) if action == "cancel_job" else is_retryable(job)
        return super().check_action(action, parameters)

    def selected_job(self) -> dict[str, Any] | None:
        if not self.is_mounted:
            return None
        return self.jobs_by_id.get(self.table.cursor_job_id or "")

    def action_cycle_status(self) -> None:
        self._change_query(self.query_state.next_status())

    def action_cycle_type(self) -> None:
        self._change_query(self.query_state.next_type(self.seen_types))

    def action_cycle_sort(self) -> None:
        self._change_query(self.query_state.next_sort())

    def action_toggle_order(self) -> None:
        self._change_query(self.query_state.toggle_order())

    def action_page(self, step: int) -> None:
        total = self.total or 0
        self._change_query(self.query_state.with_page(self.query_state.page + step, total))

    def action_search(self) -> None:
        search = self.query_one("#search", Input)
        search.value = self.query_state.search
        search.display = True
        search.focus()

    @on(Input.Submitted, "#search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        self._close_search()
        self._change_query(self.query_state.with_search(event.value))

    def on_key(self, event: Key) -> None:
        search = self.query_one("#search", Input)
        if event.key == "escape" and search.display:
            event.stop()
            self._close_search()

    def _close_search(self) -> None:
        search = self.query_one("#search", Input)
        search.display = False
        self.table.focus()

    @on(DataTable.HeaderSelected)
    def _header_selected(self, event: DataTable.HeaderSelected) -> None:
        column = COLUMNS[event.column_index]
        if column.sort_field:
            self._change_query(self.query_state.sorted_by(column.sort_field))

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if self.query_one("#search", Input).display:
            # `/` then Enter typed quickly: the Enter reached the table before the search box
            # took focus. It belongs to the search box, never to the job under the cursor.
            return
        job_id = event.row_key.value
        if job_id:
            self.open_detail(job_id)

    @on(DataTable.RowHighlighted)
    def _row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self.refresh_bindings()  # Cancel shows only for a queued or running job

    def open_detail(self, job_id: str) -> None:
        """Only the visible screen polls: the list pauses while the detail is open."""

        self._pause_loops("hidden")
        from vpo_tui.screens.detail import DetailScreen  # lazy: not needed for the first frame

        self.app.push_screen(DetailScreen(job_id), callback=self._detail_closed)

    def _detail_closed(self, _result: object) -> None:
        # Back on the list: fetch at once, the cursor is still on the same job.
        self._resume_loops("hidden")
        self.table.focus()

    def _list_loops(self) -> list[PollLoop]:
        """The loops that fetch the rows (one here; one per daemon over several)."""
        return [self.loop] if self.loop is not None else []

    def _stats_loops(self) -> list[PollLoop]:
        return [loop for line in self.query(StatsLine) for loop in line.loops]

    def _pause_loops(self, reason: str) -> None:
        """Only the visible screen polls: the list and its counters alike."""
        for loop in [*self._list_loops(), *self._stats_loops()]:
            loop.pause(reason)

    def _resume_loops(self, reason: str) -> None:
        for loop in [*self._list_loops(), *self._stats_loops()]:
            loop.resume(reason)

    def action_new_scan(self) -> None:
        from vpo_tui.screens.new_scan import NewScanScreen  # lazy: opened on a key press

        self.app.push_screen(NewScanScreen(), callback=self.job_created)

    def job_created(self, job: dict[str, Any] | None) -> None:
        """A new job (from the dialog, or a retry): select it once the list has it."""
        if not job:
            return
        self.notify(f"Job {short_id(job)} queued.", markup=False)
        if self.loop is None:
            return
        self.select_when_shown = NewJob(
            str(job.get("id")), self.loop.requests_started, short_id(job)
        )
        self.poll_after_submit([self.loop, *self._stats_loops()])

    @staticmethod
    def poll_after_submit(loops: list[PollLoop | None]) -> None:
        """A job was just submitted from here: every loop that shows it forgets the daemon's
        idle hint (`job_started`: the next waits are the configured interval, not the idle
        one), then fetches at once, so the row and the counters appear now."""
        for loop in loops:
            if loop is not None:
                loop.job_started()
                loop.poll_now(force=True)

    def action_retry_job(self) -> None:
        job_id = self.table.cursor_job_id
        job = self.selected_job()
        if job_id is None or job is None:
            self.notify("No job selected.")
            return
        self.ask_to_retry(job_id, job)

    def retry_answered(self, job_id: str, job: dict[str, Any]) -> None:
        self.job_created(job)

    def action_copy_id(self) -> None:
        job = self.selected_job()
        if job is None:
            self.notify("No job selected.")
            return
        self.copy_job_id(self.job_reference(str(self.table.cursor_job_id)))

    def job_reference(self, job_id: str) -> str:
        """What `y` copies for the row `job_id`: the id (over several daemons, `NAME:ID`)."""
        return job_id

    def action_cancel_job(self) -> None:
        job_id = self.table.cursor_job_id
        job = self.jobs_by_id.get(job_id or "")
        if job_id is None or job is None:
            self.notify("No job selected.")
            return
        self.ask_to_cancel(job_id, job)

    def cancel_answered(self, job_id: str, job: dict[str, Any]) -> None:
        self.notify(
            f"Cancel requested for {short_id(job)} ({safe_text(job.get('status'))}).",
            markup=False,
        )
        if not is_terminal(job):
            self.cancelling.add(job_id)
            self.follow_cancel()
