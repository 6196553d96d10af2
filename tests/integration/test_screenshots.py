"""`scripts/screenshots` still makes every documentation picture.

The script runs for real (a demo daemon, vpo-tui headless, Chromium) into a temporary directory.
The test checks that each picture exists and is what it claims to be (an SVG of the right
screen, a PNG of the right size), never its pixels: times and ids differ on every run.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "screenshots"
DOCS_IMAGES = REPO / "docs" / "images"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# name -> what the screen must show (the TUI pictures keep their text as text inside the SVG)
SVGS = {
    "tui-jobs.svg": (
        "VPO jobs",
        "▶ running",
        "✓ completed",
        "✗ failed",
        "⊘ cancelled",
        "○ queued",
        "● connected",
    ),
    "tui-detail.svg": (" of 600 files done · probe", "Log (following)", "● connected"),
    "tui-all.svg": ("Daemon", "films ● · tv ●", "▶ running", "d Daemon", "q Quit"),
}
# name -> (width, height) in pixels: desktop 1280x800, phone 390x844 at device scale 2
PNGS = {
    "web-jobs.png": (1280, 800),
    "web-detail.png": (1280, 800),
    "web-jobs-phone.png": (780, 1688),
    "web-detail-phone.png": (780, 1688),
}


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which a valid PNG has right after its signature."""
    assert data[:8] == PNG_SIGNATURE, "not a PNG"
    assert data[12:16] == b"IHDR", "PNG without IHDR first"
    return struct.unpack(">II", data[16:24])


def svg_text(path: Path) -> str:
    """The screen's text: Textual writes each styled run in its own <text>, spaces as &#160;."""
    root = ET.parse(path).getroot()  # raises on a file that is not well-formed XML
    assert root.tag.endswith("svg"), f"{path.name}: root element is {root.tag}"
    runs = ("".join(e.itertext()) for e in root.iter() if e.tag.endswith("}text"))
    return "".join(runs).replace("\xa0", " ")


def test_the_script_makes_every_picture(tmp_path: Path) -> None:
    out = tmp_path / "images"
    env = {**os.environ, "VPO_PYTHON": sys.executable}
    done = subprocess.run(
        [str(SCRIPT), str(out)], env=env, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr[-4000:]

    assert sorted(p.name for p in out.iterdir()) == sorted([*SVGS, *PNGS])
    for name, words in SVGS.items():
        path = out / name
        assert path.stat().st_size > 10_000, f"{name} is too small to hold a screen"
        text = svg_text(path)
        for word in words:
            assert word in text, f"{name} does not show {word!r}"
    for name, size in PNGS.items():
        data = (out / name).read_bytes()
        assert png_size(data) == size, name
        assert len(data) > 20_000, f"{name} is too small to hold a page"


def test_the_committed_pictures_are_the_ones_the_script_makes() -> None:
    """docs/images holds exactly the script's pictures, and the docs show each of them."""
    assert sorted(p.name for p in DOCS_IMAGES.iterdir()) == sorted([*SVGS, *PNGS])
    shown = "".join((REPO / doc).read_text() for doc in ("README.md", "docs/tui.md", "docs/web.md"))
    for name in [*SVGS, *PNGS]:
        assert f"images/{name}" in shown, f"no document shows {name}"
