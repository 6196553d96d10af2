"""The `?` screen: every key of the screen it was opened from (rows from `vpo_tui.keys`).

The closing hint sits on the frame, and the rows scroll when the terminal is shorter than
them: at 80x24 every row of the list over several daemons fits, and a longer list is never cut.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from vpo_tui.keys import KeyBinding, help_rows

__all__ = ["HelpScreen", "KeyBinding", "help_rows"]


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen > VerticalScroll {
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
        text.append(f"{self.title_text}\n", style="bold")
        for key, meaning in self.keys:
            text.append(f"\n{key:>12}", style="bold")
            text.append(f"  {meaning}")
        with VerticalScroll() as box:
            box.border_subtitle = "Escape or ? closes this help"
            yield Static(text)

    def action_close(self) -> None:
        self.dismiss(None)
