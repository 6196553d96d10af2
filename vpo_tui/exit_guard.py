"""Leaving promptly when asked to or when the terminal goes away (SSH drop, tmux killed).

When an SSH connection drops or the tmux server is killed, the kernel hangs up the pty: the
client gets SIGHUP (and SIGCONT), writes to the terminal fail with EIO and the tty reads EOF, all
within a few milliseconds, often while the first frame is still being drawn. Each of those must
end in the same clean exit (`App.exit`, which restores the terminal when there still is one),
and the process must be gone within 2 s even if that exit gets stuck on the dead terminal.

`ExitGuard` gathers every such sign in one thread that never touches the terminal:

- signals: SIGHUP (a hangup), SIGTERM and SIGINT (a request to quit). The C-level signal handler
  writes the signal number to a pipe (`signal.set_wakeup_fd`), so the guard hears of a signal
  even when the main thread is blocked and cannot run a Python handler;
- the terminal itself: POLLHUP on the tty file descriptors (a closed pty, which also makes reads
  return EOF);
- `report_terminal_lost()`, called by the driver when a write to the terminal fails.

A request to quit asks the app to exit. A hangup does too, and then arms a watchdog: if the
process is still alive `HANGUP_GRACE_S` later, it ends it with `os._exit(FORCED_EXIT_CODE)`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import signal
import threading
from collections.abc import Callable, Iterable

HANGUP_SIGNALS = frozenset({signal.SIGHUP})
QUIT_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})
TERMINAL_LOST = 0  # a byte on the wake-up pipe that no signal uses: a terminal write failed

# A clean exit takes about 0.1 s; 1.5 s leaves room on a loaded machine and still ends the
# process within the 2 s docs/tui.md promises.
HANGUP_GRACE_S = 1.5
FORCED_EXIT_CODE = 128 + signal.SIGHUP  # the shell's code for "ended by a hangup"

_CLOSED = select.POLLHUP | select.POLLERR | select.POLLNVAL


class ExitGuard:
    """Turns signals, a closed terminal and failed terminal writes into one exit request.

    `install()` first thing in `main()` (main thread), `attach()` once the app's event loop runs.
    A request that arrives before `attach()` is kept and honoured on `attach()`.
    """

    def __init__(
        self,
        *,
        grace_s: float = HANGUP_GRACE_S,
        force_exit: Callable[[int], object] = os._exit,
    ) -> None:
        self.grace_s = grace_s
        self._force_exit = force_exit
        self._lock = threading.Lock()
        self._exit_app: Callable[[], object] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending = False
        self._wake_r = self._wake_w = -1
        self._thread: threading.Thread | None = None

    # -- set-up (main thread) --------------------------------------------------------------

    def install(self, terminal_fds: Iterable[int] = (0, 2)) -> None:
        """Take over SIGHUP, SIGTERM and SIGINT and start watching `terminal_fds` (those that
        are ttys) for a hangup."""
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        for signum in HANGUP_SIGNALS | QUIT_SIGNALS:
            # The work is done by the guard thread; the Python-level handler only has to exist
            # so that the C handler writes the signal number to the wake-up pipe.
            signal.signal(signum, _ignore_in_main_thread)
        signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        ttys = sorted({fd for fd in terminal_fds if _is_tty(fd)})
        self._thread = threading.Thread(
            target=self._watch, args=(ttys,), name="vpo-exit-guard", daemon=True
        )
        self._thread.start()

    def attach(self, exit_app: Callable[[], object], loop: asyncio.AbstractEventLoop) -> None:
        """Route exit requests to `exit_app`, called on `loop` (the app's). Runs it at once if a
        request came in before the app was ready."""
        with self._lock:
            self._exit_app, self._loop = exit_app, loop
            pending, self._pending = self._pending, False
        if pending:
            exit_app()

    def detach(self) -> None:
        with self._lock:
            self._exit_app = self._loop = None

    # -- reports (any thread) --------------------------------------------------------------

    def report_terminal_lost(self) -> None:
        """A write to the terminal failed: treated as a hangup. Safe from any thread."""
        self._wake(TERMINAL_LOST)

    def _wake(self, code: int) -> None:
        # A full pipe already holds a wake-up, and a closed one means the guard is gone.
        with contextlib.suppress(OSError):
            os.write(self._wake_w, bytes([code]))

    # -- the guard thread ------------------------------------------------------------------

    def _watch(self, ttys: list[int]) -> None:
        poller = select.poll()
        poller.register(self._wake_r, select.POLLIN)
        for fd in ttys:
            # No events asked for: poll still reports POLLHUP/POLLERR, and pending input (which
            # the app's input thread reads) does not wake this thread.
            poller.register(fd, 0)
        while True:
            hangup = quit_requested = False
            for fd, events in poller.poll():
                if fd == self._wake_r:
                    codes = _drain(fd)
                    hangup |= bool(codes & (HANGUP_SIGNALS | {TERMINAL_LOST}))
                    quit_requested |= bool(codes & QUIT_SIGNALS)
                elif events & _CLOSED:
                    poller.unregister(fd)
                    hangup = True
            if hangup or quit_requested:
                self._request_exit()
            if hangup:
                break
        self._last_resort()

    def _request_exit(self) -> None:
        with self._lock:
            exit_app, loop = self._exit_app, self._loop
            if exit_app is None or loop is None:
                self._pending = True
                return
        with contextlib.suppress(RuntimeError):  # the loop has closed: the app is leaving
            loop.call_soon_threadsafe(exit_app)

    def _last_resort(self) -> None:
        # The clean exit can get stuck on a dead terminal (a thread of the UI library blocked on
        # it, a write that never returns); nobody is left to see the screen, and a client left
        # running after its terminal is gone is an orphan nobody will ever stop. If the process
        # is still here after the grace period, leave without the clean-up.
        threading.Event().wait(self.grace_s)
        self._force_exit(FORCED_EXIT_CODE)


def _ignore_in_main_thread(signum: int, frame: object) -> None:
    """See `ExitGuard.install`: the guard thread acts on the signal, not this handler."""


def _drain(fd: int) -> set[int]:
    codes: set[int] = set()
    while True:
        try:
            data = os.read(fd, 256)
        except BlockingIOError:
            return codes
        if not data:
            return codes
        codes.update(data)


def _is_tty(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False
