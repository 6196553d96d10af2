"""The counters over the jobs list: running, queued, failed in the last 24 h (`GET /api/stats`).

Polled by a loop of its own, under the same rules as the list (its interval, the daemon's idle
hint, backoff, pauses, `If-None-Match`), so a quiet daemon answers it with 304s, and seldom.
While its last poll failed the line keeps the last counts, marked as not current, rather than
showing numbers it does not know.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.widgets import Static

from vpo_tui.poll_loop import PollLoop
from vpo_tui.poller import CONNECTED, Outcome, Poller

if TYPE_CHECKING:
    from vpo_tui.app import VpoTuiApp


def stats_text(stats: dict[str, Any] | None, *, current: bool = True) -> Text:
    """`▶ 1 running · 2 queued · ✗ 3 failed in 24 h`; `…` before the first answer."""
    if stats is None:
        return Text("counters …", style="dim", end="")
    last_day = stats.get("last_24h") if isinstance(stats.get("last_24h"), dict) else {}

    def count(value: object) -> int:
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    failed = count(last_day.get("failed"))  # type: ignore[union-attr]
    text = Text(end="")
    text.append(f"▶ {count(stats.get('running'))} running", style="bold" if current else "")
    text.append(f" · {count(stats.get('queued'))} queued")
    text.append(" · ")
    text.append(f"✗ {failed} failed in 24 h", style="bold red" if failed and current else "")
    if not current:
        text.append("  (not current)")
        text.stylize("dim")
    return text


class StatsLine(Static):
    DEFAULT_CSS = """
    StatsLine {
        height: 1;
        padding: 0 1;
        background: $boost;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(stats_text(None), id=id)
        self.stats: dict[str, Any] | None = None
        self.loop: PollLoop | None = None
        self._etag: str | None = None

    @property
    def vpo_app(self) -> VpoTuiApp:
        return self.app  # type: ignore[return-value]

    def on_mount(self) -> None:
        app = self.vpo_app
        self.loop = PollLoop(
            self,
            Poller(app.interval_ms, clock=app.clock),
            self.fetch,
            on_state=self.show_state,
            scheduler=app.stats_scheduler,
            name="stats-poll",
        )
        app.register_loop(self.loop)
        self.loop.start()

    def on_unmount(self) -> None:
        if self.loop is not None:
            self.loop.stop()
            self.vpo_app.unregister_loop(self.loop)

    async def fetch(self) -> Outcome:
        result = await self.vpo_app.client.stats(etag=self._etag)
        # An idle daemon hints a longer wait (X-Poll-Interval): the counters follow it like the
        # list, so an idle hour costs a quarter of the requests (docs/design.md §7).
        assert self.loop is not None
        self.loop.poller.note_hint(result.poll_interval_ms)
        if result.not_modified:
            return "not_modified"
        self.stats, self._etag = result.data, result.etag
        return "ok"

    def show_state(self) -> None:
        current = self.loop is not None and self.loop.poller.state == CONNECTED
        self.update(stats_text(self.stats, current=current))
