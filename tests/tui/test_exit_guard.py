"""`ExitGuard` and `TerminalOutput` against real ptys and real signals.

The guard takes over process-wide signal handling, so each guard test runs it in a child
process whose stdin is the slave side of a pty the test owns: closing the master is a real
hangup, `os.kill` sends real signals. The child's "app" is an asyncio loop whose exit callback
either stops the loop (a clean exit) or does nothing (an exit that got stuck).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from vpo_tui.exit_guard import FORCED_EXIT_CODE
from vpo_tui.terminal_driver import TerminalOutput

GRACE_S = 0.3

CHILD = """
import asyncio, os, signal, sys, time
from vpo_tui.exit_guard import ExitGuard

mode, grace = sys.argv[1], float(sys.argv[2])
guard = ExitGuard(grace_s=grace)
guard.install((0,))
if mode == "early":
    os.kill(os.getpid(), signal.SIGHUP)  # before the app is attached

async def main():
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    def exit_app():
        print("exit requested", flush=True)
        if mode != "stuck" and not done.done():
            done.set_result(None)
    print("ready", flush=True)
    guard.attach(exit_app, loop)
    if mode == "blocked":
        time.sleep(60)  # the main thread never gets back to the event loop
    await done

asyncio.run(main())
"""


class GuardedChild:
    def __init__(self, mode: str) -> None:
        self.master, slave = os.openpty()
        self.process = subprocess.Popen(
            [sys.executable, "-c", CHILD, mode, str(GRACE_S)],
            stdin=slave,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
        )
        os.close(slave)
        assert self.process.stdout is not None
        self.lines: list[str] = []

    def read_line(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        self.lines.append(line)
        return line

    def hang_up(self) -> None:
        os.close(self.master)
        self.master = -1

    def wait(self, timeout: float = 15) -> int:
        return self.process.wait(timeout=timeout)

    def close(self) -> None:
        if self.master >= 0:
            os.close(self.master)
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def child() -> Iterator[type[GuardedChild]]:
    made: list[GuardedChild] = []

    def start(mode: str) -> GuardedChild:
        made.append(GuardedChild(mode))
        return made[-1]

    yield start  # type: ignore[misc]
    for one in made:
        one.close()


def test_a_closed_pty_asks_the_app_to_exit(child):
    guarded = child("clean")
    assert guarded.read_line() == "ready"
    guarded.hang_up()
    assert guarded.read_line() == "exit requested"
    assert guarded.wait() == 0


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGTERM, signal.SIGINT])
def test_signals_ask_the_app_to_exit(child, signum):
    guarded = child("clean")
    assert guarded.read_line() == "ready"
    os.kill(guarded.process.pid, signum)
    assert guarded.read_line() == "exit requested"
    assert guarded.wait() == 0


def test_a_hangup_before_the_app_is_ready_is_kept(child):
    guarded = child("early")
    assert guarded.read_line() == "ready"
    assert guarded.read_line() == "exit requested"
    assert guarded.wait() == 0


@pytest.mark.parametrize("hangup", ["closed pty", "SIGHUP"])
def test_a_stuck_exit_after_a_hangup_is_forced(child, hangup):
    guarded = child("stuck")
    assert guarded.read_line() == "ready"
    if hangup == "SIGHUP":
        os.kill(guarded.process.pid, signal.SIGHUP)
    else:
        guarded.hang_up()
    assert guarded.read_line() == "exit requested"
    assert guarded.wait() == FORCED_EXIT_CODE


def test_a_hangup_is_heard_while_the_main_thread_is_blocked(child):
    """The signal reaches the guard thread through the wake-up fd, not a Python handler, so a
    main thread stuck in a blocking call cannot keep the process alive."""
    guarded = child("blocked")
    assert guarded.read_line() == "ready"
    os.kill(guarded.process.pid, signal.SIGHUP)
    assert guarded.wait() == FORCED_EXIT_CODE
    assert guarded.lines == ["ready"]  # the app's exit never got to run


def test_a_stuck_exit_after_sigterm_is_not_forced(child):
    """SIGTERM on a live terminal: the clean exit (which restores the terminal) is what matters,
    so no watchdog ends the process behind its back."""
    guarded = child("stuck")
    assert guarded.read_line() == "ready"
    os.kill(guarded.process.pid, signal.SIGTERM)
    assert guarded.read_line() == "exit requested"
    with pytest.raises(subprocess.TimeoutExpired):
        guarded.wait(timeout=GRACE_S * 4)


def test_output_to_a_hung_up_pty_is_dropped_and_reported_once():
    master, slave = os.openpty()
    reports: list[str] = []
    terminal = open(slave, "w", encoding="utf-8")  # noqa: SIM115 (closed below, may raise EIO)
    try:
        output = TerminalOutput(terminal, lambda: reports.append("lost"))
        output.write("before\n")
        output.flush()
        assert os.read(master, 100) == b"before\r\n"
        os.close(master)  # the hangup: writes to the slave now fail with EIO
        for _ in range(3):
            assert output.write("after\n") == len("after\n")
            output.flush()
        assert output.lost
        assert reports == ["lost"]
        assert output.fileno() == slave
    finally:
        with contextlib.suppress(OSError):  # the buffered "after" cannot be flushed
            terminal.close()
