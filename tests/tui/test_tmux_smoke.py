"""The real `vpo-tui` binary in a real terminal (tmux) against a live daemon.

tmux gives the app a genuine pty; `capture-pane` reads what a user would see, and the pane's
flags tell whether the app left the terminal as it found it (alternate screen off, no mouse
reporting) after `q` and after SIGTERM.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.support.media import build_library
from tests.tui.harness import get_job, submit_scan, wait_daemon

VPO_TUI = Path(sys.executable).parent / "vpo-tui"


class TmuxPane:
    """One detached tmux server (own socket) running one command in an 80x24 pane."""

    def __init__(self, command: str, env: dict[str, str]) -> None:
        self.socket = f"vpo-tui-test-{uuid.uuid4().hex[:8]}"
        self.env = env
        self.tmux("new-session", "-d", "-x", "80", "-y", "24", "-s", "t", command)
        self.tmux("set-option", "-t", "t", "remain-on-exit", "on")

    def tmux(self, *args: str) -> str:
        result = subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=10,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    def capture(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "t")

    def flags(self) -> dict[str, str]:
        names = [
            "pane_dead",
            "pane_dead_status",
            "pane_dead_signal",
            "alternate_on",
            "mouse_any_flag",
            "pane_pid",
        ]
        values = self.tmux("display-message", "-p", "-t", "t", "|".join(f"#{{{n}}}" for n in names))
        return dict(zip(names, values.strip().split("|"), strict=True))

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "t", *keys)

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


@pytest.fixture
def tui_env(daemon) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VPO_")}
    env.update(VPO_URL=daemon.url, TERM="xterm-256color")
    env.pop("TMUX", None)
    return env


@pytest.fixture
def finished_jobs(daemon, media_cache, tmp_path) -> list[dict]:
    library = build_library(tmp_path / "library", media_cache)
    jobs = [submit_scan(daemon.url, str(library.root / name)) for name in ("tv", "movies")]
    for job in jobs:
        wait_daemon(lambda job=job: get_job(daemon.url, job["id"])["status"] == "completed")
    return jobs


def dead_flags(pane: TmuxPane) -> dict[str, str] | None:
    """The pane's flags once its process has exited and tmux has recorded how."""
    flags = pane.flags()
    if flags["pane_dead"] == "1" and (flags["pane_dead_status"] or flags["pane_dead_signal"]):
        return flags
    return None


def start_pane(env: dict[str, str]) -> TmuxPane:
    return TmuxPane(f"exec {shlex.quote(str(VPO_TUI))} --interval 2", env)


def test_real_binary_shows_jobs_and_quits_with_q(tui_env, finished_jobs):
    pane = start_pane(tui_env)
    try:
        screen = wait_daemon(
            lambda: all(j["id"][:8] in (s := pane.capture()) for j in finished_jobs) and s,
            timeout=30,
            message="vpo-tui never showed the jobs",
        )
        assert "connected" in screen
        assert "✓ completed" in screen
        assert pane.flags()["alternate_on"] == "1"

        pane.keys("q")
        flags = wait_daemon(
            lambda: dead_flags(pane),
            timeout=15,
            message="vpo-tui did not quit on q",
        )
        assert flags["pane_dead_status"] == "0"
        assert flags["alternate_on"] == "0"  # the terminal is back to the normal screen
        assert flags["mouse_any_flag"] == "0"  # and mouse reporting is off again
        assert "Traceback" not in pane.capture()
    finally:
        pane.close()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_real_binary_exits_cleanly_on_signals(tui_env, finished_jobs, signum):
    pane = start_pane(tui_env)
    try:
        wait_daemon(
            lambda: finished_jobs[0]["id"][:8] in pane.capture(),
            timeout=30,
            message="vpo-tui never showed the jobs",
        )
        os.kill(int(pane.flags()["pane_pid"]), signum)
        flags = wait_daemon(
            lambda: dead_flags(pane),
            timeout=15,
            message=f"vpo-tui did not exit on {signum.name}",
        )
        assert flags["pane_dead_status"] == "0"
        assert flags["alternate_on"] == "0"
        assert flags["mouse_any_flag"] == "0"
        assert "Traceback" not in pane.capture()
    finally:
        pane.close()


def test_ctrl_c_quits(tui_env, finished_jobs):
    pane = start_pane(tui_env)
    try:
        wait_daemon(lambda: finished_jobs[0]["id"][:8] in pane.capture(), timeout=30)
        pane.keys("C-c")
        flags = wait_daemon(lambda: dead_flags(pane), timeout=15)
        assert flags["pane_dead_status"] == "0"
        assert flags["alternate_on"] == "0"
    finally:
        pane.close()
