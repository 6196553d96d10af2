"""A job's progress as a bar plus `N of M files · phase`.

Textual's ProgressBar animates its indeterminate state at 15 frames a second, which costs CPU
and bytes on an SSH link for as long as a scan discovers files. This bar is static: it changes
only when a poll brings new numbers, and the unknown-total state is a hatched bar with words.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

from vpo.jobs import RUNNING
from vpo.jobtext import percent_value
from vpo_tui.jobview import counts_label

BAR_WIDTH = 40


def progress_bar_text(job: dict[str, Any], width: int = BAR_WIDTH) -> Text:
    """`[████░░░░]  42% overall  25 of 60 files done · probe`, or a hatched bar while unknown."""
    percent = percent_value(job.get("progress_percent"))
    text = Text(no_wrap=True, overflow="ellipsis", end="")
    if percent is not None:
        # The bar follows the exact value; the number is the whole percent every client shows.
        clamped = min(max(float(job["progress_percent"]), 0.0), 100.0)
        filled = round(width * clamped / 100)
        text.append("█" * filled, style="green")
        text.append("░" * (width - filled), style="dim")
        text.append(f" {percent:3d}% overall")
    elif job.get("status") == RUNNING:
        text.append("▚" * width, style="yellow")
        text.append("   … overall")
    else:
        text.append("░" * width, style="dim")
        text.append("            ")
    text.append("  ")
    text.append(counts_label(job))
    return text


class JobProgress(Static):
    DEFAULT_CSS = """
    JobProgress {
        height: 1;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.plain_text = ""

    def show_job(self, job: dict[str, Any]) -> None:
        text = progress_bar_text(job)
        if text.plain != self.plain_text:
            self.plain_text = text.plain
            self.update(text)
