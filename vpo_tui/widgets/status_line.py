"""The one-line status shown at the bottom of every polled screen.

It always says the connection state (docs/design.md §7), with the time to the next try while
offline, when the data last changed, and PAUSED with the reason. It never claims more than it knows:
"connected" only while a poll has succeeded within one interval plus one request timeout; before the
first answer it says "connecting", after that window "stale since HH:MM:SS" (a bug in the loop: it
is logged once), or "idle" when polling is paused or stopped. A 401/403 is its own state, with the
fix spelled out by the screen. It re-reads its facts every second but repaints only when the text
changes, so an idle app writes nothing to the terminal.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from rich.text import Text
from textual.timer import Timer
from textual.widgets import Static

from vpo_tui.plaintext import safe_text
from vpo_tui.poller import CONNECTED, DENIED, OFFLINE, RECONNECTING, Poller

STATE_SYMBOLS = {CONNECTED: "●", RECONNECTING: "◌", OFFLINE: "✗", DENIED: "✗"}
STATE_STYLES = {CONNECTED: "green", RECONNECTING: "yellow", OFFLINE: "bold red", DENIED: "bold red"}
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
    # What the connection word may claim (see the module docstring).
    never_succeeded: bool = False
    stale_since: datetime | None = None  # active loop, no success for too long
    idle_since: datetime | None = None  # paused or stopped loop, last success long ago
    denied_words: str = ""  # "token needed" / "token refused" / "access refused"


def describe_status(facts: StatusFacts) -> list[tuple[str, str]]:
    """(text, style) parts of the status line; pure so the wording is easy to check."""
    parts: list[tuple[str, str]] = []
    symbol = STATE_SYMBOLS.get(facts.state, "?")
    state_text = f"{symbol} {facts.state}"
    style = STATE_STYLES.get(facts.state, "")
    if facts.state == DENIED:
        state_text = f"{symbol} {facts.denied_words or 'access refused'} · r retries"
    elif facts.state == OFFLINE and facts.seconds_to_next is not None:
        state_text += f", next try in {math.ceil(facts.seconds_to_next)}s"
    elif facts.state == RECONNECTING:
        tries = "try" if facts.failures == 1 else "tries"
        state_text += f" ({facts.failures} failed {tries})"
    elif facts.state == CONNECTED:
        if facts.stale_since is not None:
            state_text = f"✗ stale since {facts.stale_since.strftime('%H:%M:%S')}"
            style = "bold red"
        elif facts.idle_since is not None:
            state_text = f"○ idle, last answer {facts.idle_since.strftime('%H:%M:%S')}"
            style = "dim"
        elif facts.never_succeeded:
            state_text = "◌ connecting…"
            style = "yellow"
    parts.append((state_text, style))
    if facts.error and facts.state not in (CONNECTED, DENIED):
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
        self._ticker: Timer | None = None
        self.stale_reported = False

    def bind(self, source: Callable[[], StatusFacts]) -> None:
        """Where the facts come from; re-read every second (countdown, staleness)."""
        self._facts_source = source
        if self._ticker is None:
            self._ticker = self.set_interval(1.0, self.refresh_from, name="status-tick")

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
        if facts.stale_since is not None and not self.stale_reported:
            # A live loop always has a request or a timer; stale means one of them died.
            self.stale_reported = True
            self.log.error(f"polling loop stale since {facts.stale_since.isoformat()}: {facts}")
        elif facts.stale_since is None:
            self.stale_reported = False


def facts_from(
    poller: Poller,
    *,
    last_change: datetime | None,
    error: str | None,
    extra: str = "",
    stopped_note: str = "",
    denied_words: str = "",
) -> StatusFacts:
    """What the status line may say about `poller`, with wall times for "stale" and "idle"."""
    age = poller.seconds_since_success()
    old_since: datetime | None = None
    if age is not None and age > poller.stale_after_s:
        old_since = datetime.now().astimezone() - timedelta(seconds=age)
    stale = poller.is_stale()
    return StatusFacts(
        state=poller.state,
        failures=poller.failures,
        seconds_to_next=poller.seconds_until_next(),
        paused_reasons=poller.pause_reasons,
        last_change=last_change,
        error=error,
        extra=extra,
        stopped_note=stopped_note,
        never_succeeded=age is None,
        stale_since=old_since if stale else None,
        idle_since=old_since if not stale else None,
        denied_words=denied_words,
    )


def denied_words(status: int | None, token_sent: bool) -> str:
    """The short name of a refusal, for the status line."""
    if status == 401:
        return "token refused" if token_sent else "token needed"
    return "access refused"


def denied_advice(status: int | None, token_sent: bool, message: str | None) -> str:
    """The fix, in words; shown in the screen's body, where it wraps to fit 80 columns."""
    if status == 401 and not token_sent:
        return (
            "The daemon needs a token. Start vpo-tui with --token TOKEN or set VPO_TOKEN "
            "(the daemon's token is server.auth_token in its config file), then press r."
        )
    if status == 401:
        return (
            "The daemon refused this token. Check --token or VPO_TOKEN against the daemon's "
            "server.auth_token, then press r (r also re-reads the token from the config file)."
        )
    detail = f" ({safe_text(message)})" if message else ""
    return f"The daemon refused the request{detail}. Press r to try again."
