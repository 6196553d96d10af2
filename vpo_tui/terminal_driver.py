"""Textual's Linux terminal driver, made to survive its terminal going away.

Two behaviours of the stock driver turned a dropped SSH connection (or a killed tmux server)
into a client that never exits, at 0 % CPU, reparented to PID 1:

1. Its output thread writes to the terminal with no error handling. The first write to the
   hung-up pty raises EIO, the thread dies, and its bounded queue (30 writes) fills up; the next
   write from the main thread, e.g. the sequences that restore the terminal on exit, blocks in
   `Queue.put` forever. Here the thread writes through `TerminalOutput`, which swallows the
   error, reports the lost terminal once and drops all later output, so the queue keeps draining.
2. It restarts application mode on every SIGCONT. The kernel sends SIGCONT right after SIGHUP on
   a hangup, and on a hung-up tty `isatty()` is false, so the stock driver skips its terminal
   checks and starts a second output thread and a second input thread on the dead terminal; the
   first input thread could then outlive the exit. Here SIGCONT resumes only what a SIGTSTP
   suspended, and only on a live terminal.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TextIO

from textual.drivers.linux_driver import LinuxDriver


class TerminalOutput:
    """The file the driver's output thread writes to: the terminal, until a write fails."""

    def __init__(self, file: TextIO, on_lost: Callable[[], object]) -> None:
        self._file = file
        self._on_lost = on_lost
        self.lost = False

    def write(self, text: str) -> int:
        if not self.lost:
            try:
                self._file.write(text)
            except OSError:
                self._lose()
        return len(text)

    def flush(self) -> None:
        if not self.lost:
            try:
                self._file.flush()
            except OSError:
                self._lose()

    def fileno(self) -> int:
        return self._file.fileno()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)

    def _lose(self) -> None:
        # EIO (hung-up pty), EPIPE, ENXIO: no one can see this terminal any more.
        self.lost = True
        self._on_lost()


def hangup_safe_driver(on_terminal_lost: Callable[[], object]) -> type[LinuxDriver]:
    """A LinuxDriver class that calls `on_terminal_lost` (from any thread) when the terminal
    goes away instead of blocking on it."""

    class HangupSafeDriver(LinuxDriver):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._file = TerminalOutput(self._file, on_terminal_lost)
            self._suspended_by_sigtstp = False

        def _sigtstp_application(self, *args: Any) -> None:
            self._suspended_by_sigtstp = True
            super()._sigtstp_application(*args)

        def _sigcont_application(self, *args: Any) -> None:
            if not self._suspended_by_sigtstp:
                return  # a hangup's SIGCONT, or a stray `kill -CONT`: nothing to resume
            if not _is_tty(self.fileno):
                on_terminal_lost()  # the terminal died while we were stopped
                return
            self._suspended_by_sigtstp = False
            super()._sigcont_application(*args)

    return HangupSafeDriver


def _is_tty(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False
