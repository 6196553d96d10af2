"""A small pool of persistent probe worker processes (`vpo/probe_worker.py`), parent side.

Why processes, and why these: FFmpeg is C code reading hostile bytes. Inside the daemon a crash
would take the daemon down and a hang would hold a scan thread forever; in a worker it takes one
process, which is replaced. A worker lives for the whole scan, so the ~0.1 s of starting Python
and importing `av` is paid once per worker, not once per file as with ffprobe.

Why a plain subprocess with a line protocol over pipes rather than `multiprocessing`: the daemon
has threads, so a plain fork is unsafe, and a "spawn"/"forkserver" pool would re-import the
daemon's main module and add pickling, a resource tracker and a result-handler thread, none of
which this needs. A subprocess gives exactly what the pool must control: its pid (to kill it on
a timeout or a cancel), its exit status (a signal means a crash), and its stdin, whose end of
file is how a worker learns that it should leave, including when the daemon is killed (-9) and
the kernel closes the pipe. The worker also asks for SIGKILL on its parent's death, which ends
one that is stuck inside FFmpeg and no longer reads.

The pool is single-threaded: the scan's probe loop submits files, then waits with `wait()`,
which multiplexes the workers' answer pipes with `select` and enforces each file's deadline.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from vpo.probe_worker import encode_request

Tag = TypeVar("Tag")

WORKER_COMMAND = (sys.executable, "-m", "vpo.probe_worker")

# A worker gets this long to start (Python plus `import av`) before its first file's own timeout
# starts counting: on a loaded NAS start-up may take seconds; it is not the file's fault.
STARTUP_TIMEOUT = 30.0

# How long `close()` lets idle workers leave on end of input before killing them.
CLOSE_GRACE = 1.0


# -- outcomes --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probed:
    """The worker read the file: ffprobe-shaped JSON (see `vpo/probe_av.py`)."""

    data: dict[str, Any]


@dataclass(frozen=True)
class Rejected:
    """FFmpeg refused the content; the same bytes give the same answer."""

    reason: str


@dataclass(frozen=True)
class Failed:
    """Something other than FFmpeg's verdict went wrong for this file (a Python error)."""

    reason: str


@dataclass(frozen=True)
class Crashed:
    """The worker died while on this file (a signal such as SIGSEGV or SIGKILL, or an exit)."""

    detail: str


@dataclass(frozen=True)
class TimedOut:
    """No answer before the deadline; the worker was killed."""

    seconds: float


@dataclass(frozen=True)
class Unavailable:
    """The worker cannot import `av`: this prober cannot be used at all."""

    reason: str


Outcome = Probed | Rejected | Failed | Crashed | TimedOut | Unavailable


def death_detail(returncode: int) -> str:
    """`killed by SIGSEGV` / `exit status 1`: how a worker ended, in words."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"killed by {name}"
    return f"exit status {returncode}"


def parse_answer(line: bytes) -> Outcome | str:
    """One answer line as an Outcome; the `ready` greeting comes back as its version text."""
    try:
        message = json.loads(line)
    except ValueError:
        return Failed(f"unreadable answer from the probe worker: {line[:80]!r}")
    if not isinstance(message, dict) or len(message) != 1:
        return Failed("unreadable answer from the probe worker")
    ((key, value),) = message.items()
    if key == "ready":
        return str(value)
    if key == "ok" and isinstance(value, dict):
        return Probed(value)
    if key == "rejected":
        return Rejected(str(value))
    if key == "unavailable":
        return Unavailable(str(value))
    return Failed(str(value))


# -- one worker ------------------------------------------------------------------------------


@dataclass
class _Job(Generic[Tag]):
    tag: Tag
    path: str
    sent_at: float


@dataclass
class _Worker(Generic[Tag]):
    process: subprocess.Popen[bytes]
    started_at: float
    ready_at: float | None = None
    job: _Job[Tag] | None = None
    buffer: bytearray = field(default_factory=bytearray)

    @property
    def fd(self) -> int:
        assert self.process.stdout is not None
        return self.process.stdout.fileno()

    def deadline(self, timeout: float) -> float:
        """When the current file's answer is overdue. Before the worker is ready, its start-up
        allowance; after, `timeout` from when the file was sent or the worker got ready."""
        if self.ready_at is None:
            return self.started_at + max(timeout, STARTUP_TIMEOUT)
        assert self.job is not None
        return max(self.job.sent_at, self.ready_at) + timeout

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        self.reap()

    def reap(self) -> int:
        """Wait for the (dying) process and close our ends of its pipes."""
        code = self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        return code


# -- the pool --------------------------------------------------------------------------------


class ProbePool(Generic[Tag]):
    """Up to `size` workers, each probing one file at a time; a dead worker is replaced on the
    next submit. Use as a context manager (or call `close()`): no worker outlives it."""

    def __init__(
        self,
        size: int,
        timeout: float,
        *,
        command: tuple[str, ...] = WORKER_COMMAND,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.size = max(1, size)
        self.timeout = timeout
        self._command = command
        self._env = dict(env) if env is not None else None
        self._workers: list[_Worker[Tag]] = []
        self.started = 0  # workers started so far (restarts included)
        self.unavailable: str | None = None

    # -- state

    @property
    def busy(self) -> int:
        return sum(worker.job is not None for worker in self._workers)

    def has_room(self) -> bool:
        return self.unavailable is None and self.busy < self.size

    def worker_pids(self) -> list[int]:
        return [worker.process.pid for worker in self._workers]

    # -- work

    def submit(self, path: str, tag: Tag) -> None:
        """Send one file to an idle worker, starting one if none is idle."""
        if not self.has_room():
            raise RuntimeError("no idle probe worker")
        worker = next((w for w in self._workers if w.job is None), None) or self._start()
        worker.job = _Job(tag, path, time.monotonic())
        assert worker.process.stdin is not None
        try:
            worker.process.stdin.write(encode_request(path))
            worker.process.stdin.flush()
        except OSError:
            pass  # it died already: its end of output reports the crash in wait()

    def wait(self, timeout: float) -> list[tuple[Tag, Outcome]]:
        """Outcomes that arrived within `timeout` seconds (possibly none).

        Returns as soon as at least one file is done, a deadline passes, or `timeout` elapses.
        """
        busy = [w for w in self._workers if w.job is not None]
        if not busy:
            return []
        now = time.monotonic()
        first_deadline = min(w.deadline(self.timeout) for w in busy)
        pause = max(0.0, min(timeout, first_deadline - now))
        readable, _, _ = select.select([w.fd for w in busy], [], [], pause)
        done: list[tuple[Tag, Outcome]] = []
        for worker in busy:
            if worker.fd in readable:
                self._read(worker, done)
        now = time.monotonic()
        for worker in busy:
            overdue = worker.job is not None and now >= worker.deadline(self.timeout)
            if overdue and worker in self._workers:
                job = worker.job
                self._drop(worker, kill=True)
                done.append((job.tag, TimedOut(self.timeout)))
        return done

    def close(self) -> None:
        """Stop every worker: busy ones are killed (their files stay unfinished), idle ones are
        told to leave by end of input and killed if they have not within a second."""
        workers, self._workers = self._workers, []
        for worker in workers:
            if worker.job is not None:
                with contextlib.suppress(ProcessLookupError):
                    worker.process.kill()
            elif worker.process.stdin is not None:
                with contextlib.suppress(OSError):
                    worker.process.stdin.close()
        deadline = time.monotonic() + CLOSE_GRACE
        for worker in workers:
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            worker.kill()

    def __enter__(self) -> ProbePool[Tag]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- internals

    def _start(self) -> _Worker[Tag]:
        process = subprocess.Popen(
            [*self._command, str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=self._env,
            close_fds=True,
        )
        worker: _Worker[Tag] = _Worker(process, time.monotonic())
        self._workers.append(worker)
        self.started += 1
        return worker

    def _drop(self, worker: _Worker[Tag], *, kill: bool) -> int:
        self._workers.remove(worker)
        if kill:
            worker.kill()
            return worker.process.returncode
        return worker.reap()

    def _read(self, worker: _Worker[Tag], done: list[tuple[Tag, Outcome]]) -> None:
        try:
            chunk = os.read(worker.fd, 65536)
        except OSError:
            chunk = b""
        if not chunk:  # end of output: the worker is gone
            job = worker.job
            code = self._drop(worker, kill=False)
            if job is not None:
                done.append((job.tag, Crashed(death_detail(code))))
            return
        worker.buffer += chunk
        while b"\n" in worker.buffer and worker in self._workers:
            line, _, rest = bytes(worker.buffer).partition(b"\n")
            worker.buffer = bytearray(rest)
            self._handle_line(worker, line, done)

    def _handle_line(
        self, worker: _Worker[Tag], line: bytes, done: list[tuple[Tag, Outcome]]
    ) -> None:
        answer = parse_answer(line)
        if isinstance(answer, str):
            worker.ready_at = time.monotonic()
            return
        job, worker.job = worker.job, None
        if isinstance(answer, Unavailable):
            self.unavailable = answer.reason
            self._drop(worker, kill=True)
        if job is not None:
            done.append((job.tag, answer))
