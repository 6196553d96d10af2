"""The log full screen (`L` on the detail): wrap on and off, search with `/`, `n` and `N`, and
`o` to read the whole log in `$PAGER`.

It shows the lines the detail holds when it opens (the tail, up to 5,000 lines); the pager gets
the whole log, fetched page by page from the API into a temporary file, with the app suspended
while the pager runs and resumed after.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile

from rich.text import Text
from textual import on
from textual.app import ComposeResult, SuspendNotSupported
from textual.screen import Screen
from textual.widgets import Footer, Input, Static, TextArea
from textual.widgets.text_area import Selection

from vpo.client import AsyncVpoClient, VpoError
from vpo_tui.keys import KeyBinding
from vpo_tui.plaintext import safe_text, strip_escapes
from vpo_tui.textsearch import find_match

LOG_PAGE_LINES = 1000  # the API's largest page
DEFAULT_PAGER = "less"


class LogViewScreen(Screen[None]):
    DEFAULT_CSS = """
    LogViewScreen #title {
        height: 1;
        background: $primary;
        text-style: bold;
    }
    LogViewScreen TextArea {
        height: 1fr;
    }
    LogViewScreen #find {
        dock: bottom;
        display: none;
    }
    LogViewScreen #where {
        height: 1;
        padding: 0 1;
        background: $boost;
    }
    """

    # Priority: they work while the text has the focus (it would take the letters otherwise);
    # `check_action` lets them through to the search box while it is open.
    BINDINGS = [
        KeyBinding("escape", "back", "Back", help="back to the job"),
        KeyBinding("w", "toggle_wrap", "Wrap", priority=True, help="wrap long lines on / off"),
        KeyBinding("slash", "find", "Search", priority=True, help="search (Enter finds)"),
        KeyBinding("n", "next_match(1)", "Next", priority=True, help="next / previous match"),
        KeyBinding(
            "N", "next_match(-1)", "Prev", show=False, priority=True, help="next / previous match"
        ),
        KeyBinding("o", "pager", "Pager", priority=True, help="the whole log in $PAGER"),
    ]

    def __init__(self, job_id: str, lines: list[str], client: AsyncVpoClient) -> None:
        """`client`: the daemon that owns the job (one of several with `--all`)."""
        super().__init__()
        self.job_id = job_id
        self.client = client
        self.lines = lines
        self.pattern = ""

    def compose(self) -> ComposeResult:
        yield Static(Text(f"Log of job {self.job_id[:8]}", end=""), id="title")
        yield TextArea(
            "\n".join(self.lines), read_only=True, soft_wrap=False, show_line_numbers=True
        )
        yield Input(placeholder="search (Enter finds, Escape closes)", id="find")
        yield Static("", id="where")
        yield Footer(compact=True)

    @property
    def text_area(self) -> TextArea:
        return self.query_one(TextArea)

    def on_mount(self) -> None:
        self.text_area.focus()
        self.text_area.move_cursor((max(0, len(self.lines) - 1), 0))
        self._say(f"{len(self.lines)} lines · wrap off")

    def _say(self, message: str) -> None:
        self.query_one("#where", Static).update(Text(message, end=""))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # While the search box has the focus, letters are typed into it.
        return action == "back" or not self.query_one("#find", Input).has_focus

    # -- actions -----------------------------------------------------------------------------

    def action_back(self) -> None:
        find = self.query_one("#find", Input)
        if find.display:
            find.display = False
            self.text_area.focus()
            return
        self.dismiss(None)

    def action_toggle_wrap(self) -> None:
        self.text_area.soft_wrap = not self.text_area.soft_wrap
        self._say(f"{len(self.lines)} lines · wrap {'on' if self.text_area.soft_wrap else 'off'}")

    def action_find(self) -> None:
        find = self.query_one("#find", Input)
        find.value = self.pattern
        find.display = True
        find.focus()

    @on(Input.Submitted, "#find")
    def _find_submitted(self, event: Input.Submitted) -> None:
        self.pattern = event.value
        event.input.display = False
        self.text_area.focus()
        self.action_next_match(1, from_cursor=True)

    def action_next_match(self, step: int, *, from_cursor: bool = False) -> None:
        if not self.pattern:
            self._say("No search yet: press / to search.")
            return
        row, column = self.text_area.selection.end if step > 0 else self.text_area.selection.start
        if from_cursor:
            row, column = self.text_area.cursor_location
        found = find_match(self.lines, self.pattern, (row, column), step)
        if found is None:
            self._say(f"Not found: {safe_text(self.pattern)}")
            return
        (line, start), wrapped = found
        end = (line, start + len(self.pattern))
        self.text_area.selection = Selection((line, start), end)
        self.text_area.scroll_cursor_visible(center=True)
        note = " (wrapped around)" if wrapped else ""
        self._say(f"line {line + 1}: {safe_text(self.pattern)}{note}")

    def action_pager(self) -> None:
        self.run_worker(self._open_pager(), group="pager", exclusive=True, exit_on_error=False)

    async def _open_pager(self) -> None:
        try:
            path = await self._whole_log_to_file()
        except VpoError as exc:
            self.notify(f"Could not fetch the log: {safe_text(exc)}", severity="error")
            return
        command = shlex.split(os.environ.get("PAGER") or DEFAULT_PAGER)
        try:
            # The pager owns the terminal until it exits; the app then redraws as it was.
            with self.app.suspend():
                subprocess.run([*command, path], check=False)
        except FileNotFoundError:
            self.notify(f"No pager {safe_text(command[0])}: set $PAGER.", severity="error")
        except SuspendNotSupported:
            self.notify(f"This terminal cannot hand over to a pager; the log is in {path}.")
            return
        os.unlink(path)

    async def _whole_log_to_file(self) -> str:
        client = self.client
        with tempfile.NamedTemporaryFile(
            "w", prefix=f"vpo-{self.job_id[:8]}-", suffix=".log", delete=False, encoding="utf-8"
        ) as handle:
            offset = 0
            while True:
                page = (
                    await client.get_logs(self.job_id, lines=LOG_PAGE_LINES, offset=offset)
                ).value()
                for line in page.lines:
                    handle.write(strip_escapes(line) + "\n")
                offset = page.offset + len(page.lines)
                if not page.has_more or not page.lines:
                    break
        return handle.name
