"""A wrapped message above the status line, for what one row cannot say (how to fix a refusal)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class Notice(Static):
    DEFAULT_CSS = """
    Notice {
        height: auto;
        padding: 0 1;
        background: $error 25%;
        display: none;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.plain_text = ""

    def show_message(self, message: str | None) -> None:
        """Show `message` wrapped to the screen's width, or hide the notice when None."""
        text = message or ""
        if text != self.plain_text:
            self.plain_text = text
            self.update(Text(text))
        self.display = bool(text)
