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

from tests.support.daemon import wait_until
from tests.support.media import build_library
from tests.tui.harness import get_job, submit_scan, wait_daemon

VPO_TUI = Path(sys.executable).parent / "vpo-tui"


# Runs vpo-tui in the pane's terminal and records its pid and exit status in files: tmux's own
# pane_dead_status is sometimes left empty when the pty closes before tmux reaps the process.
RECORDER = """
import subprocess, sys
from pathlib import Path
record = Path(sys.argv[1])
child = subprocess.Popen(sys.argv[2:])
(record / "pid").write_text(str(child.pid))
code = child.wait()
(record / "exit.tmp").write_text(str(code))
(record / "exit.tmp").rename(record / "exit")
"""


class TmuxPane:
    """One detached tmux server (own socket) running vpo-tui in an 80x24 pane."""

    def __init__(self, record_dir: Path, env: dict[str, str], tui: Path = VPO_TUI) -> None:
        self.socket = f"vpo-tui-test-{uuid.uuid4().hex[:8]}"
        self.env = env
        self.record = record_dir
        self.record.mkdir(parents=True, exist_ok=True)
        command = shlex.join(
            [sys.executable, "-c", RECORDER, str(record_dir), str(tui), "--interval", "2"]
        )
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
        names = ["alternate_on", "mouse_any_flag"]
        values = self.tmux("display-message", "-p", "-t", "t", "|".join(f"#{{{n}}}" for n in names))
        return dict(zip(names, values.strip().split("|"), strict=True))

    @property
    def app_pid(self) -> int:
        return int((self.record / "pid").read_text())

    def exit_code(self) -> int | None:
        path = self.record / "exit"
        return int(path.read_text()) if path.exists() else None

    def wait_exit(self, why: str) -> int:
        wait_daemon(lambda: self.exit_code() is not None, timeout=15, message=why)
        return self.exit_code()  # type: ignore[return-value]

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "t", *keys)

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


def assert_terminal_restored(pane: TmuxPane) -> None:
    # The app writes its restoring sequences before it exits, but tmux reads the pty on its own
    # schedule: the exit file can appear before tmux has parsed the last bytes, so the flags are
    # waited for (with a deadline) rather than read once.
    restored = {"alternate_on": "0", "mouse_any_flag": "0"}  # normal screen, no mouse reporting
    wait_daemon(
        lambda: pane.flags() == restored,
        timeout=10,
        message="the terminal was not restored (alternate screen or mouse reporting still on)",
    )
    assert "Traceback" not in pane.capture()


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


@pytest.fixture
def start_pane(tmp_path, tui_env):
    panes: list[TmuxPane] = []

    def start() -> TmuxPane:
        pane = TmuxPane(tmp_path / f"pane-{len(panes)}", tui_env)
        panes.append(pane)
        return pane

    yield start
    for pane in panes:
        pane.close()


def test_real_binary_shows_jobs_and_quits_with_q(start_pane, finished_jobs):
    pane = start_pane()

    def complete_screen() -> str | None:
        # A capture can catch tmux halfway through a frame (rows drawn, status line not yet),
        # so the test waits for one capture that shows everything rather than reading one once.
        screen = pane.capture()
        expected = [job["id"][:8] for job in finished_jobs] + ["● connected", "✓ completed"]
        return screen if all(text in screen for text in expected) else None

    wait_daemon(
        complete_screen,
        timeout=30,
        message="vpo-tui never showed the jobs, completed and connected",
    )
    assert pane.flags()["alternate_on"] == "1"

    pane.keys("q")
    assert pane.wait_exit("vpo-tui did not quit on q") == 0
    assert_terminal_restored(pane)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_real_binary_exits_cleanly_on_signals(start_pane, finished_jobs, signum):
    pane = start_pane()
    wait_daemon(
        lambda: finished_jobs[0]["id"][:8] in pane.capture(),
        timeout=30,
        message="vpo-tui never showed the jobs",
    )
    os.kill(pane.app_pid, signum)
    assert pane.wait_exit(f"vpo-tui did not exit on {signum.name}") == 0
    assert_terminal_restored(pane)


def test_ctrl_c_quits(start_pane, finished_jobs):
    pane = start_pane()
    wait_daemon(lambda: finished_jobs[0]["id"][:8] in pane.capture(), timeout=30)
    pane.keys("C-c")
    assert pane.wait_exit("vpo-tui did not quit on Ctrl+C") == 0
    assert_terminal_restored(pane)


# -- the terminal going away -----------------------------------------------------------------

HANGUP_ROUNDS = 20


def process_start_time(pid: int) -> str | None:
    """The kernel's start time of `pid` (None once it is gone), so a reused pid is not mistaken
    for the process the test started."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] == "Z" else fields[19]  # a zombie has exited already


def first_paint(pane: TmuxPane) -> bool:
    return pane.flags()["alternate_on"] == "1" and pane.capture().strip() != ""


@pytest.mark.slow
def test_killing_tmux_at_first_paint_leaves_no_process(start_pane, daemon, tmp_path):
    """The SSH/tmux hangup case: the pty dies right as the first rows are drawn. The kernel then
    sends SIGHUP and SIGCONT, writes fail with EIO and the tty reads EOF, all at once; every
    round's vpo-tui must be gone soon after (a hung one used to stay, reparented to PID 1)."""
    (tmp_path / "empty").mkdir()
    submit_scan(daemon.url, str(tmp_path / "empty"))
    survivors: list[int] = []
    try:
        for _ in range(HANGUP_ROUNDS):
            pane = start_pane()
            # Poll the pane as fast as tmux answers, to kill the server at the first paint:
            # anything drawn on the alternate screen (the app's own screen).
            wait_until(lambda pane=pane: first_paint(pane), timeout=30, interval=0)
            pid = pane.app_pid
            started = process_start_time(pid)
            pane.close()
            try:
                # A hung client never leaves, so a generous deadline tells "hung" from "slow".
                wait_until(
                    lambda pid=pid, started=started: process_start_time(pid) != started,
                    timeout=10,
                )
            except TimeoutError:
                survivors.append(pid)
        assert survivors == [], f"vpo-tui still running after its terminal died: {survivors}"
    finally:
        for pid in survivors:
            os.kill(pid, signal.SIGKILL)


def thread_ids(pid: int) -> set[str]:
    return set(os.listdir(f"/proc/{pid}/task"))


def test_stray_sigcont_starts_no_second_terminal_mode(start_pane, finished_jobs):
    """The kernel sends SIGCONT with every hangup, and `kill -CONT` can come from anywhere. With
    nothing suspended it must not start the terminal mode again: that started a second output
    and a second input thread on the same tty, and the first input thread, left blocked in
    read(), kept the process alive after `q`."""
    pane = start_pane()
    wait_daemon(lambda: finished_jobs[0]["id"][:8] in pane.capture(), timeout=30)
    threads_before = thread_ids(pane.app_pid)
    os.kill(pane.app_pid, signal.SIGCONT)
    # A key the app answers on screen: once the help shows, the signal (delivered before the
    # key was sent) has been handled.
    pane.keys("?")
    wait_daemon(lambda: "closes this help" in pane.capture(), timeout=10)
    assert thread_ids(pane.app_pid) - threads_before == set(), "SIGCONT started new threads"
    pane.keys("?")
    wait_daemon(lambda: "closes this help" not in pane.capture(), timeout=10)
    pane.keys("q")
    assert pane.wait_exit("vpo-tui did not quit on q after SIGCONT") == 0
    assert_terminal_restored(pane)
