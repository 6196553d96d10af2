"""Which daemon a new scan goes to (`n` on the list over several daemons).

A short list, one row per daemon with its connection state: ↑ ↓ and Enter, or the row's digit,
pick one; Escape cancels. The row starts on the daemon of the job under the cursor, the likeliest
choice. Dismissed with the chosen name, or None.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.events import Key
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from vpo_tui.plaintext import safe_text


class ChooseDaemonScreen(ModalScreen[str | None]):
    DEFAULT_CSS = """
    ChooseDaemonScreen {
        align: center middle;
    }
    ChooseDaemonScreen > Vertical {
        width: 60;
        max-width: 100%;
        height: auto;
        border: thick $primary;
        background: $surface;
        padding: 1 2;
    }
    ChooseDaemonScreen #heading {
        text-style: bold;
        margin-bottom: 1;
    }
    ChooseDaemonScreen OptionList {
        height: auto;
        max-height: 12;
    }
    ChooseDaemonScreen #hint {
        color: $text-muted;
        margin-top: 1;
    }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, daemons: Sequence[tuple[str, str]], *, preselect: str | None = None) -> None:
        """`daemons`: (name, state word) in the list's order; `preselect`: the row to start on."""
        super().__init__()
        self.names = [name for name, _state in daemons]
        self.states = [state for _name, state in daemons]
        self.preselect = preselect

    def compose(self) -> ComposeResult:
        options = []
        for index, (name, state) in enumerate(zip(self.names, self.states, strict=True)):
            number = f"{index + 1}" if index < 9 else " "
            prompt = Text(f"{number}  ", style="bold", end="")
            prompt.append(f"{safe_text(name):<16} ")
            prompt.append(state, style="dim")
            options.append(Option(prompt, id=f"daemon-{index}"))
        with Vertical():
            yield Static("New scan on which daemon?", id="heading")
            yield OptionList(*options)
            yield Static("↑ ↓ Enter or 1-9 picks · Escape cancels", id="hint")

    def on_mount(self) -> None:
        choices = self.query_one(OptionList)
        choices.focus()
        if self.preselect in self.names:
            choices.highlighted = self.names.index(self.preselect)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self.names[event.option_index])

    def on_key(self, event: Key) -> None:
        if event.character and event.character.isdigit() and event.character != "0":
            index = int(event.character) - 1
            if index < len(self.names):
                event.stop()
                self.dismiss(self.names[index])

    def action_cancel(self) -> None:
        self.dismiss(None)
