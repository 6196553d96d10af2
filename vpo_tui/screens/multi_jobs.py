"""The jobs list over several daemons (`vpo-tui --all`, or `--daemon` given more than once).

The jobs screen's filters, search, sort, pages and keys, with one `PollLoop` per daemon (each
its own `Poller`: interval, backoff, ETag, idle hint), so a daemon that is down backs off alone
and never slows or blanks the others. The rows are merged by `vpo_tui.merged_list` (keyed by
daemon and job id); a daemon that stops answering keeps its rows, marked stale. `d` switches
between all daemons and each one; the cursor stays on its job when that job is still shown.
Cancel, retry, `y` and the detail view (its errors, its full log) go to the daemon that owns
the job; `n` asks which daemon first (vpo_tui/screens/choose_daemon.py) unless the list shows
one. The counters line sums every daemon's counters. Imported only in that mode.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from vpo.client import ApiError, AsyncVpoClient, JobListParams
from vpo.jobtext import is_terminal
from vpo_tui.jobview import CELL_PADDING, COLUMNS, Column, job_cells, short_id, target_width_for
from vpo_tui.keys import KeyBinding
from vpo_tui.listquery import ListQuery
from vpo_tui.merged_list import (
    DaemonRows,
    DaemonState,
    merged_jobs,
    merged_rows,
    next_view,
    row_key,
    split_row_key,
    status_text,
)
from vpo_tui.plaintext import safe_text
from vpo_tui.poll_loop import PollLoop
from vpo_tui.poller import CONNECTED, Outcome, Poller
from vpo_tui.screens.jobs import JobsScreen, NewJob
from vpo_tui.widgets.job_table import JobTable
from vpo_tui.widgets.notice import Notice
from vpo_tui.widgets.stats_line import StatsLine
from vpo_tui.widgets.status_line import StatusLine, denied_words

DAEMON_COLUMN = Column("daemon", "Daemon", None)
DAEMON_WIDTH = 10


@dataclass
class DaemonFeed:
    """One daemon of the view: its client, its loop and what it last answered."""

    name: str
    client: AsyncVpoClient
    loop: PollLoop | None = None
    polling_config: dict[str, Any] | None = None
    etag: str | None = None
    etag_query: ListQuery | None = None
    jobs: tuple[dict[str, Any], ...] = ()
    total: int | None = None
    requests_applied: int = 0
    answered_queries: set[ListQuery] = field(default_factory=set)

    @property
    def poller(self) -> Poller:
        assert self.loop is not None
        return self.loop.poller

    def is_stale(self) -> bool:
        """Its rows are not what it would say now: its last poll failed or is overdue."""
        poller = self.poller
        return poller.state != CONNECTED or poller.is_stale() or poller.denied


class MultiStatusLine(StatusLine):
    """Each daemon's state on one line (`films ● · tv ◐ reconnecting in 20 s`)."""

    def __init__(self, text_source: Any, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._text_source = text_source

    def on_mount(self) -> None:
        self.set_interval(1.0, self.refresh_from, name="status-tick")

    def refresh_from(self) -> None:
        if not self.is_mounted:
            return
        text = Text(self._text_source(), no_wrap=True, overflow="ellipsis", end="")
        if text.plain != self.plain_text:
            self.plain_text = text.plain
            self.update(text)


def multi_bindings() -> list[Binding]:
    """The jobs screen's keys and `d`, in the footer's order, fitting 80 columns.

    `d Daemon` goes before `? Keys`; to make room `t` (filter by type) leaves the footer here
    (still in the help and still working): with `R Retry` or `c Cancel` shown, the footer would
    otherwise run past 80 columns and lose `q Quit`.
    """
    bindings: list[Binding] = list(Screen.BINDINGS)  # not inherited: see the class below
    for binding in JobsScreen.BINDINGS:
        if binding.action == "help":
            bindings.append(
                KeyBinding("d", "next_daemon", "Daemon", help="show all daemons / the next one")
            )
        if binding.action == "cycle_type":
            binding = replace(binding, show=False)
        bindings.append(binding)
    return bindings


# Textual appends a subclass's new keys after the inherited ones, which would put `d` after
# `q Quit`; this screen declares its whole list instead, in order.
class MultiJobsScreen(JobsScreen, inherit_bindings=False):
    BINDINGS = multi_bindings()
    poll_name = "jobs-multi"

    def __init__(self, feeds: list[tuple[str, AsyncVpoClient]]) -> None:
        super().__init__()
        self.feeds = [DaemonFeed(name, client) for name, client in feeds]
        self.view: str | None = None  # None: all daemons
        self.closing = False

    # -- layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        names = ", ".join(safe_text(feed.name) for feed in self.feeds)
        yield Static(Text(f"VPO jobs · {names}", end=""), id="title")
        if self.vpo_app.show_stats:
            yield StatsLine([(feed.name, feed.client) for feed in self.feeds], id="stats")
        yield Static("", id="filters")
        yield JobTable(
            id="jobs", columns=(DAEMON_COLUMN, *COLUMNS), widths={"daemon": DAEMON_WIDTH}
        )
        yield Static("", id="empty")
        yield Input(placeholder="search paths (Enter applies, Escape cancels)", id="search")
        yield Notice(id="notice")
        yield MultiStatusLine(self.status_words, id="status")
        yield Footer(compact=True)

    def on_resize(self, event: Any) -> None:
        width = self._target_width(self.size.width)
        if width != self.target_width:
            self.target_width = width
            self.table.set_target_width(width)
            self._show_rows()

    def _target_width(self, width: int) -> int:
        return max(8, target_width_for(width) - DAEMON_WIDTH - CELL_PADDING)

    # -- polling: one loop per daemon ---------------------------------------------------------

    def start_polling(self) -> None:
        app = self.vpo_app
        self.target_width = self._target_width(self.size.width)
        self.table.set_target_width(self.target_width)
        for feed in self.feeds:
            feed.loop = PollLoop(
                self,
                Poller(app.interval_ms, clock=app.clock),
                lambda feed=feed: self._fetch_feed(feed),
                on_state=lambda feed=feed: self._feed_state(feed),
                scheduler=app.scheduler,
                name=f"{self.poll_name}-{feed.name}",
            )
            app.register_loop(feed.loop)
        for feed in self.feeds:
            assert feed.loop is not None
            feed.loop.start()

    def on_unmount(self) -> None:
        self.closing = True  # the widgets are going: stopping loops must not repaint them
        for feed in self.feeds:
            if feed.loop is not None:
                feed.loop.stop()
                self.vpo_app.unregister_loop(feed.loop)

    async def _ensure_config(self, feed: DaemonFeed) -> None:
        """The daemon's own polling settings, read once (retried by the next poll on failure)."""
        if feed.polling_config is not None:
            return
        try:
            config = await feed.client.polling_config()
        except ApiError as exc:
            if exc.status >= 500 or exc.status in (401, 403):
                raise
            config = {}
        feed.polling_config = dict(config)
        app = self.vpo_app
        interval = config.get("interval_ms")
        # The daemon's counters loop keeps the same pace as its rows.
        pollers = [feed.poller, *(loop.poller for loop in self._stats_loops_of(feed.name))]
        if isinstance(interval, int | float):
            for poller in pollers:
                poller.set_busy_interval_ms(interval)
                if app.interval_override_ms is None:
                    poller.set_interval_ms(interval)
        if config.get("enabled", True) is False and feed.loop is not None:
            feed.loop.pause("disabled")

    async def _fetch_feed(self, feed: DaemonFeed) -> Outcome:
        request = feed.loop.requests_started if feed.loop is not None else 0
        await self._ensure_config(feed)
        query = self.query_state
        etag = feed.etag if feed.etag_query == query else None
        result = await feed.client.list_jobs(JobListParams(**query.api_params()), etag=etag)
        feed.poller.note_hint(result.poll_interval_ms)
        if query != self.query_state:
            return "ok"  # the user changed the query meanwhile; a poll follows at once
        feed.answered_queries = {query}
        if result.not_modified:
            self._select_new_job_of(feed, request)
            return "not_modified"
        page = result.data
        assert page is not None
        feed.etag, feed.etag_query = result.etag, query
        feed.jobs = tuple(page.jobs)
        feed.total = page.total
        feed.requests_applied += 1
        self.seen_types.update(safe_text(job.get("job_type")) for job in page.jobs)
        self._apply()
        self._select_new_job_of(feed, request)
        return "ok"

    def _feed_state(self, feed: DaemonFeed) -> None:
        """After each of a daemon's polls: its stale mark and the status line."""
        if not self.is_mounted or self.closing:
            return
        self._apply()
        for line in self.query(MultiStatusLine):
            line.refresh_from()
        self.refresh_bindings()

    def _apply(self) -> None:
        """Bring the table to what every daemon last said."""
        if not self.is_mounted or self.closing:
            return
        if self._show_rows():
            self.last_change = datetime.now().astimezone()
        self._show_filters()
        self._follow_cancels()

    def _rows_by_daemon(self) -> list[DaemonRows]:
        return [
            DaemonRows(feed.name, feed.jobs, feed.total, feed.loop is not None and feed.is_stale())
            for feed in self.feeds
        ]

    def _show_rows(self) -> bool:
        now = datetime.now().astimezone()
        daemons = self._rows_by_daemon()
        rows = merged_rows(
            daemons,
            lambda job: job_cells(dict(job), target_width=self.target_width, now=now),
            sort=self.query_state.sort,
            order=self.query_state.order,
            only=self.view,
        )
        self.jobs_by_id = merged_jobs(daemons, self.view)
        self.page_jobs = [self.jobs_by_id[key] for key, _cells in rows]
        shown = [feed for feed in self.feeds if self.view in (None, feed.name)]
        totals = [feed.total for feed in shown if feed.total is not None]
        self.total = sum(totals) if totals else None
        self.shown_query = self.query_state
        patch = self.table.apply_rows(rows)
        self._show_empty_note()
        return not patch.is_empty or self.last_change is None

    def status_words(self) -> str:
        states = []
        for feed in self.feeds:
            if feed.loop is None:
                continue
            poller = feed.poller
            states.append(
                DaemonState(
                    name=feed.name,
                    state=poller.state,
                    seconds_to_next=poller.seconds_until_next(),
                    never_succeeded=poller.last_success_at is None,
                    stale=poller.is_stale(),
                    denied_words=denied_words(
                        feed.loop.denied_status, feed.client.token is not None
                    ),
                )
            )
        text = status_text(states, self.view)
        if self.vpo_app.pause_reasons:
            text += "  ·  PAUSED (" + ", ".join(sorted(self.vpo_app.pause_reasons)) + ")"
        if self.last_change is not None:
            text += f"  ·  updated {self.last_change.strftime('%H:%M:%S')}"
        return text

    def status_facts(self) -> Any:  # the single-daemon status line is not used here
        raise NotImplementedError

    # -- what the jobs screen does with its one loop, done for every daemon --------------------

    def _list_loops(self) -> list[PollLoop]:
        return [feed.loop for feed in self.feeds if feed.loop is not None]

    def _stats_loops_of(self, daemon: str) -> list[PollLoop]:
        loops = (line.loop_for(daemon) for line in self.query(StatsLine))
        return [loop for loop in loops if loop is not None]

    def _change_query(self, query: ListQuery) -> None:
        if query == self.query_state:
            return
        self.query_state = query
        self._show_filters()
        for loop in self._list_loops():
            loop.poll_now()

    def action_refresh(self) -> None:
        for loop in self._list_loops():
            self.vpo_app.refresh_loop(loop)

    def action_next_daemon(self) -> None:
        self.view = next_view([feed.name for feed in self.feeds], self.view)
        self._apply()
        for line in self.query(MultiStatusLine):
            line.refresh_from()

    def open_detail(self, job_id: str) -> None:
        from vpo_tui.screens.detail import DetailScreen  # lazy: not needed for the first frame

        daemon, _ = split_row_key(job_id)
        client, daemon_job_id = self.client_for_job(job_id)
        self._pause_loops("hidden")
        self.app.push_screen(
            DetailScreen(daemon_job_id, client, daemon=daemon), callback=self._detail_closed
        )

    def job_reference(self, job_id: str) -> str:
        return job_id  # the row key is already `NAME:ID`, what `vpo jobs show` takes

    # -- new jobs: on the daemon the user picks, or the one that owned the retried job ----------

    def action_new_scan(self) -> None:
        if self.view is not None or len(self.feeds) == 1:
            # The list shows one daemon: that is where the scan goes.
            self._new_scan_on(self.view or self.feeds[0].name)
            return
        from vpo_tui.screens.choose_daemon import ChooseDaemonScreen  # lazy: opened on a key

        under_cursor = split_row_key(self.table.cursor_job_id or "")[0] or None
        daemons = [(feed.name, self._state_word(feed)) for feed in self.feeds]
        self.app.push_screen(
            ChooseDaemonScreen(daemons, preselect=under_cursor),
            callback=lambda name: self._new_scan_on(name) if name else None,
        )

    def _state_word(self, feed: DaemonFeed) -> str:
        if feed.loop is None or feed.poller.last_success_at is None:
            return "connecting"
        return "connected" if not feed.is_stale() else feed.poller.state

    def _new_scan_on(self, daemon: str) -> None:
        from vpo_tui.screens.new_scan import NewScanScreen  # lazy: opened on a key press

        feed = next(feed for feed in self.feeds if feed.name == daemon)
        self.app.push_screen(
            NewScanScreen(feed.client, daemon=feed.name),
            callback=lambda job: self.new_job_on(feed, job),
        )

    def retry_answered(self, job_id: str, job: dict[str, Any]) -> None:
        feed = self._feed_of(job_id)
        if feed is not None:
            self.new_job_on(feed, job)

    def new_job_on(self, feed: DaemonFeed, job: dict[str, Any] | None) -> None:
        """A job this client just queued on `feed`'s daemon: that daemon's loops forget its idle
        hint and fetch at once; the row is selected once an answer sent after it is applied."""
        if not job or feed.loop is None:
            return
        self.notify(f"Job {short_id(job)} queued on {safe_text(feed.name)}.", markup=False)
        key = row_key(feed.name, str(job.get("id")))
        self.select_when_shown = NewJob(key, feed.loop.requests_started, short_id(job))
        self.poll_after_submit([feed.loop, *self._stats_loops_of(feed.name)])

    def _select_new_job_of(self, feed: DaemonFeed, request: int) -> None:
        new = self.select_when_shown
        if new is not None and split_row_key(new.key)[0] == feed.name:
            self._select_new_job(request)

    def client_for_job(self, job_id: str) -> tuple[AsyncVpoClient, str]:
        daemon, daemon_job_id = split_row_key(job_id)
        for feed in self.feeds:
            if feed.name == daemon:
                return feed.client, daemon_job_id
        raise KeyError(job_id)

    def _feed_of(self, job_id: str) -> DaemonFeed | None:
        daemon, _ = split_row_key(job_id)
        return next((feed for feed in self.feeds if feed.name == daemon), None)

    def cancel_answered(self, job_id: str, job: dict[str, Any]) -> None:
        super().cancel_answered(job_id, job)
        feed = self._feed_of(job_id)
        if feed is not None and feed.loop is not None:
            feed.loop.poll_now()

    def follow_cancel(self) -> None:
        for job_id in self.cancelling:
            feed = self._feed_of(job_id)
            if feed is not None:
                from vpo_tui.screens.polled import CANCEL_FOLLOW_DELAY_S, CANCEL_FOLLOW_POLLS

                feed.poller.hurry(CANCEL_FOLLOW_POLLS, CANCEL_FOLLOW_DELAY_S)

    def _follow_cancels(self) -> None:
        if not self.cancelling:
            return
        still = {
            job_id
            for job_id in self.cancelling
            if job_id in self.jobs_by_id and not is_terminal(self.jobs_by_id[job_id])
        }
        for job_id in self.cancelling - still:
            feed = self._feed_of(job_id)
            if feed is not None and not any(self._feed_of(j) is feed for j in still):
                feed.poller.hurry(0, 0)
        self.cancelling = still
