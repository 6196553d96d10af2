"""The counters over the jobs list: running, queued, failed in the last 24 h (`GET /api/stats`).

Polled by a loop of its own, under the same rules as the list (its interval, the daemon's idle
hint, backoff, pauses, `If-None-Match`), so a quiet daemon answers it with 304s, and seldom.
While its last poll failed the line keeps the last counts, marked as not current, rather than
showing numbers it does not know.

Over several daemons (`vpo-tui --all`) the line sums their counters, with one loop per daemon
(each its own interval, hint and backoff, like the list's); a daemon whose counters are not
current is named after the sums, which then hold its last known counts (or none yet).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.widgets import Static

from vpo_tui.plaintext import safe_text
from vpo_tui.poll_loop import PollLoop
from vpo_tui.poller import CONNECTED, Outcome, Poller

if TYPE_CHECKING:
    from vpo.client import AsyncVpoClient
    from vpo_tui.app import VpoTuiApp

LAST_DAY_STATUSES = ("completed", "failed", "cancelled")


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def summed_stats(answers: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Several daemons' `/api/stats` bodies as one (counts added; odd values count as 0)."""
    last_day = {status: 0 for status in LAST_DAY_STATUSES}
    total = {"running": 0, "queued": 0, "last_24h": last_day}
    for stats in answers:
        total["running"] += _count(stats.get("running"))
        total["queued"] += _count(stats.get("queued"))
        day = stats.get("last_24h")
        if isinstance(day, Mapping):
            for status in LAST_DAY_STATUSES:
                last_day[status] += _count(day.get(status))
    return total


def stats_text(
    stats: Mapping[str, Any] | None, *, current: bool = True, not_current: Sequence[str] = ()
) -> Text:
    """`▶ 1 running · 2 queued · ✗ 3 failed in 24 h`; `…` before the first answer.

    `not_current` names the daemons (of several) whose counts are not current: the sums stay
    bright, and the names follow them."""
    if stats is None:
        return Text("counters …", style="dim", end="")
    last_day = stats.get("last_24h") if isinstance(stats.get("last_24h"), Mapping) else {}
    failed = _count(last_day.get("failed"))  # type: ignore[union-attr]
    text = Text(end="")
    text.append(f"▶ {_count(stats.get('running'))} running", style="bold" if current else "")
    text.append(f" · {_count(stats.get('queued'))} queued")
    text.append(" · ")
    text.append(f"✗ {failed} failed in 24 h", style="bold red" if failed and current else "")
    if not current:
        text.append("  (not current)")
        text.stylize("dim")
    elif not_current:
        names = ", ".join(safe_text(name) for name in not_current)
        text.append(f"  (not current: {names})", style="dim")
    return text


@dataclass
class StatsSource:
    """One daemon's counters: its client, its loop, its last answer and tag."""

    name: str
    client: AsyncVpoClient | None  # None: the app's one daemon
    loop: PollLoop | None = None
    stats: dict[str, Any] | None = None
    etag: str | None = None

    def is_current(self) -> bool:
        return (
            self.stats is not None and self.loop is not None and self.loop.poller.state == CONNECTED
        )


class StatsLine(Static):
    DEFAULT_CSS = """
    StatsLine {
        height: 1;
        padding: 0 1;
        background: $boost;
    }
    """

    def __init__(
        self, daemons: Sequence[tuple[str, AsyncVpoClient]] = (), *, id: str | None = None
    ) -> None:
        """`daemons` (name, client): several daemons' sums; none: the app's one daemon."""
        super().__init__(stats_text(None), id=id)
        self.sources = [StatsSource(name, client) for name, client in daemons] or [
            StatsSource("", None)
        ]

    @property
    def vpo_app(self) -> VpoTuiApp:
        return self.app  # type: ignore[return-value]

    @property
    def loop(self) -> PollLoop | None:
        """The loop of the first (with one daemon: the only) daemon."""
        return self.sources[0].loop

    @property
    def loops(self) -> list[PollLoop]:
        return [source.loop for source in self.sources if source.loop is not None]

    def loop_for(self, daemon: str) -> PollLoop | None:
        return next((s.loop for s in self.sources if s.name == daemon), None)

    @property
    def stats(self) -> dict[str, Any] | None:
        """What the line shows: the one daemon's counters, or the sums of those known."""
        known = [source.stats for source in self.sources if source.stats is not None]
        if not known:
            return None
        return known[0] if len(self.sources) == 1 else summed_stats(known)

    def on_mount(self) -> None:
        app = self.vpo_app
        for source in self.sources:
            source.loop = PollLoop(
                self,
                Poller(app.interval_ms, clock=app.clock),
                lambda source=source: self.fetch(source),
                on_state=self.show_state,
                scheduler=app.stats_scheduler,
                name=f"stats-poll-{source.name}" if source.name else "stats-poll",
            )
            app.register_loop(source.loop)
        for loop in self.loops:
            loop.start()

    def on_unmount(self) -> None:
        for loop in self.loops:
            loop.stop()
            self.vpo_app.unregister_loop(loop)

    async def fetch(self, source: StatsSource) -> Outcome:
        client = source.client if source.client is not None else self.vpo_app.client
        result = await client.stats(etag=source.etag)
        # An idle daemon hints a longer wait (X-Poll-Interval): the counters follow it like the
        # list, so an idle hour costs a quarter of the requests (docs/design.md §7).
        assert source.loop is not None
        source.loop.poller.note_hint(result.poll_interval_ms)
        if result.not_modified:
            return "not_modified"
        source.stats, source.etag = result.data, result.etag
        return "ok"

    def show_state(self) -> None:
        if len(self.sources) == 1:
            self.update(stats_text(self.stats, current=self.sources[0].is_current()))
            return
        stale = [source.name for source in self.sources if not source.is_current()]
        current = len(stale) < len(self.sources)
        self.update(stats_text(self.stats, current=current, not_current=stale if current else ()))
