"""The harness's one read of Textual internals (`screen_render`) against Textual's public export.

`screen_text` reads the compositor because Textual offers no public plain-text export. If a
Textual release changes what the compositor renders, the SVG from the public
`App.export_screenshot()` and the harness's text part ways, and this test says so first.
"""

from __future__ import annotations

import html
import re

from textual.app import App, ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label

from tests.tui.harness import screen_text


class Dialog(ModalScreen):
    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Cancel job 3f2a9c1e? [y/n]")


class Background(App):
    CSS = """
    Dialog { align: center bottom; }
    Dialog > Vertical { width: 40; height: 3; border: round white; }
    """

    def compose(self) -> ComposeResult:
        yield Label("jobs behind the dialog: 5 completed, 1 failed")


def svg_text(svg: str) -> str:
    """The characters of an exported SVG screenshot, in document order."""
    pieces = re.findall(r"<text[^>]*>(.*?)</text>", svg, flags=re.DOTALL)
    return "".join(html.unescape(piece) for piece in pieces)


def without_blanks(text: str) -> str:
    # The SVG draws runs of blanks as background only (no <text>), so blanks are not compared.
    return re.sub(r"\s+", "", text)


async def test_screen_text_matches_the_public_svg_export():
    app = Background()
    async with app.run_test(size=(60, 10)) as pilot:
        app.push_screen(Dialog())
        await pilot.pause()
        text = screen_text(app)
        exported = svg_text(app.export_screenshot())
    # Both the dialog and the screen behind it are read, as a user sees them.
    assert "Cancel job 3f2a9c1e? [y/n]" in text
    assert "jobs behind the dialog: 5 completed, 1 failed" in text
    lines = [without_blanks(line) for line in text.splitlines() if line.strip()]
    assert lines, "the harness read an empty screen"
    missing = [line for line in lines if line not in without_blanks(exported)]
    assert not missing, f"lines the public export does not show: {missing}"
