"""The `?` screen: every key of the screen it was opened from.

A screen declares each key once, as a `KeyBinding` in its BINDINGS: the footer word
(`description`) and the help line (`help`) side by side. `help_rows` turns those into the help
screen's rows, so a new key shows up in both; keys that are not the screen's bindings (arrows
handled by a widget, Enter on the table) are passed in as extra rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

# How a binding's key is written in the help (the footer has its own `key_display`).
KEY_NAMES = {
    "slash": "/",
    "question_mark": "?",
    "left_square_bracket": "[",
    "right_square_bracket": "]",
    "escape": "Escape",
    "end": "End",
    "home": "Home",
    "enter": "Enter",
}


@dataclass(frozen=True)
class KeyBinding(Binding):
    """A binding that also says, for the help screen, what its key does.

    Bindings with the same `help` share one row (`p` pauses and resumes; `[` and `]` page);
    the row stands where the first of them is. `help_keys` replaces the keys the row shows,
    for a key that also has another binding elsewhere (Ctrl+C quits from the app).
    """

    help: str = ""
    help_keys: str | None = None


def help_rows(
    bindings: Iterable[object],
    extra: Sequence[tuple[str, str]] = (),
    *,
    extra_before: str | None = None,
) -> list[tuple[str, str]]:
    """(keys, meaning) rows from a screen's KeyBindings, with `extra` rows for keys that are
    not bindings placed before the row of the action `extra_before` (at the top when None)."""
    rows: dict[str, list[str]] = {}
    first_action: dict[str, str] = {}
    for binding in bindings:
        if not isinstance(binding, KeyBinding) or not binding.help:
            continue
        keys = rows.setdefault(binding.help, [])
        first_action.setdefault(binding.help, binding.action)
        if binding.help_keys is not None:
            keys[:] = [binding.help_keys]
            continue
        name = KEY_NAMES.get(binding.key, binding.key)
        if name not in keys:
            keys.append(name)
    result: list[tuple[str, str]] = [] if extra_before else list(extra)
    for meaning, keys in rows.items():
        if extra_before is not None and first_action[meaning] == extra_before:
            result.extend(extra)
        result.append(("  ".join(keys), meaning))
    if extra_before is not None and extra_before not in first_action.values():
        raise ValueError(f"no key help for the action {extra_before!r}")
    return result


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen > Vertical {
        width: 72;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: thick $primary;
        background: $surface;
        padding: 0 2;
    }
    """

    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("question_mark", "close", "Close"),
        Binding("q", "close", "Close"),
    ]

    def __init__(self, title: str, keys: list[tuple[str, str]]) -> None:
        super().__init__()
        self.title_text = title
        self.keys = keys

    def compose(self) -> ComposeResult:
        text = Text(end="")
        text.append(f"{self.title_text}\n\n", style="bold")
        for key, meaning in self.keys:
            text.append(f"{key:>12}", style="bold")
            text.append(f"  {meaning}\n")
        text.append("\nEscape or ? closes this help.", style="dim")
        with Vertical():
            yield Static(text)

    def action_close(self) -> None:
        self.dismiss(None)
