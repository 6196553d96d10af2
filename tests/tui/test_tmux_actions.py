"""The real `vpo-tui` in tmux against a live daemon: "New scan" end to end (`n`, Tab completion
from `/api/browse`, Enter), and `o` handing the whole log to `$PAGER` and coming back."""

from __future__ import annotations

import os
import shlex
import shutil
import tempfile
from pathlib import Path

import httpx
import pytest

from tests.tui.harness import get_job, submit_scan, wait_daemon
from tests.tui.test_tmux_smoke import TmuxPane, assert_terminal_restored

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")


@pytest.fixture
def short_root():
    """A root with a short name, so the whole path fits the dialog's input at 80 columns."""
    root = Path(tempfile.mkdtemp(prefix="vpo-"))
    for folder in ("tv", "movies", "music"):
        (root / folder).mkdir()
    yield root
    shutil.rmtree(root)


def pane_for(daemon, tmp_path: Path, **extra_env: str) -> TmuxPane:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VPO_")}
    env.update(VPO_URL=daemon.url, TERM="xterm-256color", **extra_env)
    env.pop("TMUX", None)
    return TmuxPane(tmp_path / "pane", env)


def test_new_scan_end_to_end(daemon_factory, short_root, tmp_path):
    daemon = daemon_factory(config={"scan": {"roots": [str(short_root)]}}).start()
    pane = pane_for(daemon, tmp_path)
    try:
        wait_daemon(lambda: "● connected" in pane.capture(), timeout=30)
        pane.keys("n")
        wait_daemon(lambda: "New scan" in pane.capture(), timeout=10)
        wait_daemon(lambda: f"Scan roots: {short_root}" in pane.capture(), timeout=10)
        pane.keys("Tab")  # the one root
        wait_daemon(lambda: f"{short_root}/" in pane.capture(), timeout=10, message=pane.capture())
        pane.keys("t", "Tab")  # tv: the only folder starting with t
        wait_daemon(lambda: f"{short_root}/tv/" in pane.capture(), timeout=10)
        pane.keys("Enter")
        with httpx.Client(base_url=daemon.url) as http:
            jobs = wait_daemon(lambda: http.get("/api/jobs").json()["jobs"], timeout=10)
        assert jobs[0]["file_path"] == f"{short_root}/tv"
        # Back on the list, with the new job in it.
        wait_daemon(
            lambda: "New scan" not in pane.capture() and jobs[0]["id"][:8] in pane.capture(),
            timeout=15,
        )
        pane.keys("q")
        assert pane.wait_exit("vpo-tui did not quit on q") == 0
        assert_terminal_restored(pane)
    finally:
        pane.close()


def test_o_hands_the_whole_log_to_the_pager_and_comes_back(daemon, short_root, tmp_path):
    job = submit_scan(daemon.url, str(short_root))
    wait_daemon(lambda: get_job(daemon.url, job["id"])["status"] == "completed")
    copy = tmp_path / "paged.log"
    # A "pager" that keeps what it was given and waits for a key, like a real one.
    pager = shlex.join(["sh", "-c", f'cp "$0" {shlex.quote(str(copy))}; echo PAGER-OPEN; read x'])
    pane = pane_for(daemon, tmp_path, PAGER=pager)
    try:
        wait_daemon(lambda: job["id"][:8] in pane.capture(), timeout=30)
        pane.keys("Enter")
        wait_daemon(lambda: "Log (job ended)" in pane.capture(), timeout=15)
        pane.keys("L")
        wait_daemon(lambda: f"Log of job {job['id'][:8]}" in pane.capture(), timeout=10)
        pane.keys("o")
        wait_daemon(lambda: "PAGER-OPEN" in pane.capture(), timeout=15)
        with httpx.Client(base_url=daemon.url) as http:
            whole = http.get(f"/api/jobs/{job['id']}/logs").json()["lines"]
        assert copy.read_text().splitlines() == whole
        pane.keys("Enter")  # the pager exits: the app takes the terminal back
        wait_daemon(lambda: f"Log of job {job['id'][:8]}" in pane.capture(), timeout=10)
        # The app answers keys again: wrap toggles on screen, then Ctrl+C quits.
        pane.keys("w")
        wait_daemon(lambda: "wrap on" in pane.capture(), timeout=10, message=pane.capture())
        pane.keys("C-c")
        code = pane.wait_exit("vpo-tui did not quit after the pager")
        assert code == 0
        assert_terminal_restored(pane)
    finally:
        pane.close()
