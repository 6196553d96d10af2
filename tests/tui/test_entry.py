"""The `vpo-tui` entry point: `--version`, and what the first frame makes it import.

Start-up time is kept down by importing only what the first frame needs; these checks are
structural (which modules a fresh interpreter has loaded), never timings.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from vpo import __version__

VPO_TUI = Path(sys.executable).parent / "vpo-tui"

# Screens that open only on a key press, and what never belongs in the client at all.
NOT_FOR_THE_FIRST_FRAME = [
    "vpo_tui.screens.detail",
    "vpo_tui.screens.help",
    "vpo_tui.screens.confirm",
    "vpo_tui.screens.new_scan",
    "vpo_tui.screens.log_view",
    "vpo_tui.pathcomplete",
    "vpo_tui.textsearch",
    "vpo_tui.eta",
    "textual.widgets._text_area",
    "textual.widgets._switch",
    "vpo_tui.widgets.job_progress",
    "textual.widgets._log",
    "vpo.server",
    "vpo.store",
    "vpo.scan",
    "vpo.commands",
    "aiohttp",
    "jinja2",
    # httpx's command-line tool and what it pulls in (see vpo/client.py)
    "httpx._main",
    "click",
    "pygments",
    "rich.progress",
    "rich.syntax",
    # httpcore imports trio when it is installed (the dev tools install it): vpo_tui/__init__.py
    "trio",
]


def test_version_prints_and_exits_zero():
    result = subprocess.run([str(VPO_TUI), "--version"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"vpo-tui, version {__version__}\n"


def test_the_app_module_leaves_the_other_screens_unimported():
    script = (
        "import json, sys\nimport vpo_tui.app\n"
        "print(json.dumps(sorted(k for k, v in sys.modules.items() if v is not None)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    modules = json.loads(result.stdout)
    assert "vpo_tui.screens.jobs" in modules
    loaded = [
        m
        for m in modules
        if any(m == name or m.startswith(name + ".") for name in NOT_FOR_THE_FIRST_FRAME)
    ]
    assert loaded == []


def test_trio_stays_importable_after_the_client_skipped_it():
    """vpo_tui keeps httpcore from importing trio, but only for that one import: a test run or
    tool that uses trio in the same process (selenium does) still gets it."""
    script = (
        "import vpo_tui.app, httpcore._synchronization as sync\n"
        "import trio\n"
        "print(sync.trio is None, trio.__name__)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "trio"]
