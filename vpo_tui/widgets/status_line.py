"""The one-line status shown at the bottom of every polled screen.

It always says the connection state (§7), with the time to the next try while offline, when the
data last changed, and PAUSED with the reason. It repaints only when its text changes, and its
one-second countdown timer runs only while offline, so an idle app writes nothing to the terminal.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from rich.text import Text
from textual.timer import Timer
from textual.widgets import Static

from vpo_tui.plaintext import safe_text
from vpo_tui.poller import CONNECTED, OFFLINE, RECONNECTING, Poller

STATE_SYMBOLS = {CONNECTED: "●", RECONNECTING: "◌", OFFLINE: "✗"}
STATE_STYLES = {CONNECTED: "green", RECONNECTING: "yellow", OFFLINE: "bold red"}
PAUSE_WORDS = {
    "focus": "terminal not focused",
    "user": "p to resume",
    "disabled": "polling off on the daemon; r refreshes",
    "hidden": "not visible",
}


@dataclass(frozen=True)
class StatusFacts:
    state: str
    failures: int
    seconds_to_next: float | None
    paused_reasons: frozenset[str]
    last_change: datetime | None
    error: str | None
    extra: str = ""
    stopped_note: str = ""


def describe_status(facts: StatusFacts) -> list[tuple[str, str]]:
    """(text, style) parts of the status line; pure so the wording is easy to check."""
    parts: list[tuple[str, str]] = []
    symbol = STATE_SYMBOLS.get(facts.state, "?")
    state_text = f"{symbol} {facts.state}"
    if facts.state == OFFLINE and facts.seconds_to_next is not None:
        state_text += f", next try in {math.ceil(facts.seconds_to_next)}s"
    elif facts.state == RECONNECTING:
        tries = "try" if facts.failures == 1 else "tries"
        state_text += f" ({facts.failures} failed {tries})"
    parts.append((state_text, STATE_STYLES.get(facts.state, "")))
    if facts.error and facts.state != CONNECTED:
        parts.append((safe_text(facts.error), ""))
    if facts.paused_reasons:
        reasons = ", ".join(
            PAUSE_WORDS.get(reason, reason) for reason in sorted(facts.paused_reasons)
        )
        parts.append((f"PAUSED ({reasons})", "bold reverse"))
    if facts.stopped_note:
        parts.append((facts.stopped_note, "dim"))
    if facts.last_change is not None:
        parts.append((f"updated {facts.last_change.strftime('%H:%M:%S')}", "dim"))
    if facts.extra:
        parts.append((facts.extra, ""))
    return parts


class StatusLine(Static):
    """Shows `StatusFacts`; call `refresh_from` after every request and pause/resume."""

    DEFAULT_CSS = """
    StatusLine {
        height: 1;
        width: 1fr;
        background: $panel;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.plain_text = ""
        self._facts_source: Callable[[], StatusFacts] | None = None
        self._countdown: Timer | None = None

    def bind(self, source: Callable[[], StatusFacts]) -> None:
        """Where the facts come from; the countdown timer re-reads it every second."""
        self._facts_source = source

    def refresh_from(self) -> None:
        if self._facts_source is None or not self.is_mounted:
            return
        facts = self._facts_source()
        text = Text(no_wrap=True, overflow="ellipsis", end="")
        for index, (chunk, style) in enumerate(describe_status(facts)):
            if index:
                text.append("  ·  ")
            text.append(chunk, style=style)
        if text.plain != self.plain_text:
            self.plain_text = text.plain
            self.update(text)
        self._run_countdown(facts.state == OFFLINE and facts.seconds_to_next is not None)

    def _run_countdown(self, wanted: bool) -> None:
        if wanted and self._countdown is None:
            self._countdown = self.set_interval(1.0, self.refresh_from, name="countdown")
        elif not wanted and self._countdown is not None:
            self._countdown.stop()
            self._countdown = None


def facts_from(
    poller: Poller,
    *,
    last_change: datetime | None,
    error: str | None,
    extra: str = "",
    stopped_note: str = "",
) -> StatusFacts:
    return StatusFacts(
        state=poller.state,
        failures=poller.failures,
        seconds_to_next=poller.seconds_until_next(),
        paused_reasons=poller.pause_reasons,
        last_change=last_change,
        error=error,
        extra=extra,
        stopped_note=stopped_note,
    )
