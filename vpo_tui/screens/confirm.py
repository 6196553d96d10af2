"""The yes/no dialog before cancelling or retrying a job.

Its text is fixed when it opens: it names the job it was opened for (by id), and polls never
touch it, so a refresh can neither close it nor change which job a "yes" cancels.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from vpo_tui.jobview import short_id
from vpo_tui.plaintext import safe_text


def job_question(question: str, job: dict[str, Any], note: str = "") -> Text:
    """The dialog's text: the question, then which job (id, type, status, target)."""
    text = Text(end="")
    text.append(f"{question}\n\n", style="bold")
    text.append(f"{short_id(job)}  {safe_text(job.get('job_type'))}  ")
    text.append(safe_text(job.get("status")))
    text.append("\n")
    text.append(safe_text(job.get("file_path")))
    if note:
        text.append(f"\n\n{note}")
    return text


def cancel_question(job: dict[str, Any]) -> Text:
    return job_question("Cancel this job?", job)


def retry_question(job: dict[str, Any]) -> Text:
    return job_question(
        "Retry this job?", job, "A new job with the same target and options is queued."
    )


class ConfirmScreen(ModalScreen[bool]):
    DEFAULT_CSS = """
    ConfirmScreen {
        align: center middle;
    }
    ConfirmScreen > Vertical {
        width: 64;
        max-width: 100%;
        height: auto;
        border: thick $warning;
        background: $surface;
        padding: 1 2;
    }
    ConfirmScreen Horizontal {
        height: auto;
        align: center middle;
        margin-top: 1;
    }
    ConfirmScreen Button {
        margin: 0 2;
    }
    """

    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n", "answer(False)", "No"),
        Binding("escape", "answer(False)", "No"),
    ]

    def __init__(self, question: Text, *, yes_variant: str = "error") -> None:
        super().__init__()
        self.question = question
        self.yes_variant = yes_variant  # "error" for what destroys work, "primary" otherwise

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.question, id="question")
            with Horizontal():
                yield Button("Yes (y)", id="yes", variant=self.yes_variant)  # type: ignore[arg-type]
                yield Button("No (n)", id="no", variant="primary")

    def on_mount(self) -> None:
        # The safe answer has the focus: Enter alone never cancels a job.
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)
