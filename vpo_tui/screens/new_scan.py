"""The "New scan" dialog (`n` on the jobs list): a path with Tab completion from the daemon's
`GET /api/browse`, a "full rescan" switch, and the daemon's refusal shown inside the dialog.

Dismissed with the new job's detail (the list then selects it), or None when cancelled. Over
several daemons the list first asks which one (vpo_tui/screens/choose_daemon.py) and gives the
dialog that daemon's client: completion and the submit then go to it alone.

The path is typed and completed in the API's escaped form, so a folder whose name is not UTF-8
can be picked from the completion and sent back exactly.
"""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static, Switch

from vpo.client import ApiError, AsyncVpoClient, VpoError
from vpo.pathtext import path_from_escaped
from vpo_tui.pathcomplete import (
    Completion,
    complete,
    complete_from_roots,
    split_typed,
    under_a_root,
)
from vpo_tui.plaintext import safe_text

CANDIDATES_SHOWN = 8


class PathInput(Input):
    """The path box: Tab completes instead of moving the focus."""

    BINDINGS = [Binding("tab", "complete", "Complete", show=False)]

    def action_complete(self) -> None:
        self.screen.complete_path()  # type: ignore[attr-defined]


class NewScanScreen(ModalScreen[dict | None]):
    DEFAULT_CSS = """
    NewScanScreen {
        align: center middle;
    }
    NewScanScreen > Vertical {
        width: 76;
        max-width: 100%;
        height: auto;
        border: thick $primary;
        background: $surface;
        padding: 1 2;
    }
    NewScanScreen #heading {
        text-style: bold;
        margin-bottom: 1;
    }
    NewScanScreen #hint {
        color: $text-muted;
        height: auto;
    }
    NewScanScreen #error {
        color: $error;
        text-style: bold;
        height: auto;
        display: none;
    }
    NewScanScreen .row {
        height: auto;
        margin-top: 1;
    }
    NewScanScreen .row Label {
        padding: 1 1 0 1;
    }
    NewScanScreen Button {
        margin: 0 1;
    }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, client: AsyncVpoClient | None = None, *, daemon: str | None = None) -> None:
        """`client` and `daemon`: the daemon chosen when the list shows several (its roots,
        its folders and its queue); the app's one daemon otherwise."""
        super().__init__()
        self._client = client
        self.daemon = daemon
        self.roots: list[str] | None = None  # escaped forms; None until the daemon said
        self.restricted = False
        self.escaped = False  # the text holds a completed name that is not UTF-8
        self.last_completion: Completion | None = None
        self.submitting = False

    def compose(self) -> ComposeResult:
        with Vertical():
            heading = f"New scan on {safe_text(self.daemon)}" if self.daemon else "New scan"
            yield Static(Text(heading, end=""), id="heading")
            yield PathInput(placeholder="/path/on/the/daemon  (Tab completes)", id="path")
            yield Static("", id="hint")
            with Horizontal(classes="row"):
                yield Switch(value=False, id="full")
                yield Label("Full rescan (hash and probe unchanged files too)")
            yield Static("", id="error")
            with Horizontal(classes="row"):
                yield Button("Scan (Enter)", id="scan", variant="primary")
                yield Button("Cancel (Esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#path", Input).focus()
        self.load_roots()

    @property
    def client(self) -> AsyncVpoClient:
        if self._client is not None:
            return self._client
        return self.app.client  # type: ignore[attr-defined]

    # -- roots and completion ----------------------------------------------------------------

    @work(exclusive=True, group="roots", exit_on_error=False)
    async def load_roots(self) -> None:
        try:
            answer = await self.client.roots()
        except VpoError as exc:
            self._hint(f"Completion is off: {safe_text(getattr(exc, 'message', exc))}")
            return
        self.restricted = bool(answer.get("restricted"))
        self.roots = [str(root.get("path")) for root in answer.get("roots", [])]
        if not self.restricted:
            self._hint("The daemon has no scan roots, so it offers no completion: type the path.")
        elif not self.query_one("#path", Input).value:
            self._hint("Scan roots: " + ", ".join(safe_text(root) for root in self.roots))

    def complete_path(self) -> None:
        self.run_worker(self._complete(), group="complete", exclusive=True, exit_on_error=False)

    async def _complete(self) -> None:
        box = self.query_one("#path", Input)
        text = box.value
        if not self.restricted or self.roots is None:
            return
        if not under_a_root(text, self.roots):
            result = complete_from_roots(text, self.roots)
        else:
            directory, _ = split_typed(text)
            try:
                listing = await self.client.browse(
                    path_from_escaped(directory, not self.escaped), limit=1000
                )
            except (ApiError, ValueError) as exc:
                self._hint(safe_text(getattr(exc, "message", exc)))
                return
            except VpoError as exc:
                self._hint(safe_text(exc))
                return
            items = listing.get("directories", [])
            result = complete(text, [str(item.get("name")) for item in items], self.last_completion)
            chosen = result.text.rstrip("/").rsplit("/", 1)[-1]
            if any(
                item.get("name") == chosen and item.get("name_is_utf8") is False for item in items
            ):
                self.escaped = True
        self.last_completion = result
        if result.text != text:
            box.value = result.text
            box.cursor_position = len(result.text)
        self._show_candidates(result)

    def _show_candidates(self, result: Completion) -> None:
        if not result.candidates:
            self._hint("No folder here starts with that.")
        elif len(result.candidates) == 1:
            self._hint("")
        else:
            shown = [safe_text(name) for name in result.candidates[:CANDIDATES_SHOWN]]
            more = len(result.candidates) - len(shown)
            self._hint("  ".join(shown) + (f"  … {more} more" if more > 0 else ""))

    def _hint(self, message: str) -> None:
        self.query_one("#hint", Static).update(Text(message, end=""))

    @on(Input.Changed, "#path")
    def _typed(self, event: Input.Changed) -> None:
        if self.last_completion is not None and event.value != self.last_completion.text:
            self.last_completion = None
        if not event.value:
            self.escaped = False
        self._error(None)

    # -- submitting --------------------------------------------------------------------------

    def _error(self, message: str | None) -> None:
        box = self.query_one("#error", Static)
        box.update(Text(message or "", end=""))
        box.display = bool(message)

    @on(Input.Submitted, "#path")
    def _submitted(self, _event: Input.Submitted) -> None:
        self.submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "scan":
            self.submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def submit(self) -> None:
        if self.submitting:
            return
        text = self.query_one("#path", Input).value.strip()
        if not text:
            self._error("Type the folder to scan (a path on the daemon's machine).")
            return
        try:
            path = path_from_escaped(text, not self.escaped)
        except ValueError as exc:
            self._error(f"Not a valid path: {exc}")
            return
        self.submitting = True
        self.run_worker(self._send(path), group="submit", exclusive=True, exit_on_error=False)

    async def _send(self, path: str) -> None:
        full = self.query_one("#full", Switch).value
        try:
            job = await self.client.submit_scan(path, full=full)
        except ApiError as exc:
            self._error(safe_text(exc.message))
        except VpoError as exc:
            self._error(safe_text(exc))
        else:
            self.dismiss(job)
            return
        finally:
            self.submitting = False
