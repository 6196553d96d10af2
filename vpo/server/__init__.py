"""The daemon's aiohttp application: JSON API (`api.py`), HTML pages (`web.py`), and the state
they share, reachable from any handler as `request.app[STATE]`.

`ServerState` is here, not in `app.py`, so that `api.py` and `web.py` can use it without importing
the app factory (which imports them).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiohttp import web

from vpo.server.etag import ResponseCache
from vpo.store import JobStore, StoreBusy
from vpo.worker import Worker

T = TypeVar("T")

# Enough threads that a slow read (a big count on a NAS disk) does not queue every poll behind
# it, few enough for a two-core box.
BLOCKING_THREADS = 4


def current_second() -> datetime:
    """The whole second responses and pages are built for.

    Clock-dependent values (a running job's duration, `since`) are computed from it, so every
    request within one second sees the same body, and a page's first render agrees with the
    first poll made within the same second.
    """
    second = int(time.time())
    cached = _current[0]
    if cached is None or cached[0] != second:
        cached = _current[0] = (second, datetime.fromtimestamp(second, UTC))
    return cached[1]


# The last (epoch second, datetime) built: every poll of a second asks for the same one.
_current: list[tuple[int, datetime] | None] = [None]


@dataclass
class ServerState:
    """Everything a handler needs: the store, the worker, the settings, the threads for blocking
    work, caches."""

    store: JobStore
    worker: Worker | None
    settings: Any  # vpo.config.Settings
    version: str
    started_monotonic: float = field(default_factory=time.monotonic)
    shutting_down: bool = False
    cache: ResponseCache = field(default_factory=ResponseCache)
    executor: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(
            BLOCKING_THREADS, thread_name_prefix="vpo-blocking"
        )
    )
    # Answers the response cache did not have are built on one thread of their own: a build is
    # Python (rows to JSON) under the GIL, so more threads only fight over it (with four, an
    # uncached page cost 2.1 ms of CPU; with one, 1.3 ms), and the writes and other reads on
    # `executor` never queue behind a burst of builds.
    build_executor: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="vpo-build")
    )
    # Builds in flight, so fifty pollers that miss the cache at once cause one query, not fifty.
    inflight: dict[Any, asyncio.Future] = field(default_factory=dict)
    # The store's change counter as read in this turn of the event loop (see store_version).
    _store_version: int | None = None
    # (change counter, the X-Poll-Interval value then): see known_poll_hint.
    _hint_at: tuple[int, str] | None = None
    # Raw query strings of the list already parsed (those without a clock-dependent `since`).
    parsed_queries: dict[str, Any] = field(default_factory=dict)

    async def run_blocking(self, func: Callable[..., T], *args: Any) -> T:
        """Run blocking work off the event loop: reads (SQLite, a log file) and the store's
        short writes alike (create_job, request_cancel, prune_jobs), so the loop never waits on
        SQLite's lock or the disk."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, func, *args)

    async def store_version(self) -> int:
        """The store's change counter, what every polled answer is tagged with; read on the
        event loop, at most once per turn of it.

        A trip to a thread and back costs more than the rest of a 304 together, so this read
        stays on the loop: one indexed row, on a connection that never waits for a lock (when
        SQLite would make it wait, the read goes to a thread instead). Shared within one turn
        of the loop only, which keeps it exact: the handlers that run in a turn belong to
        requests received before that turn began (aiohttp starts a handler one turn after
        its bytes arrive), so a counter read during the turn includes every write committed
        before any of them came; `call_soon` forgets it before the next turn's handlers run.
        """
        version = self._store_version
        if version is not None:
            return version
        try:
            version = self.store.change_counter_nowait()
        except StoreBusy:
            return await self.run_blocking(self.store.change_counter)
        self._store_version = version
        asyncio.get_running_loop().call_soon(self._forget_store_version)
        return version

    def known_poll_hint(self, counter: int) -> str | None:
        """The X-Poll-Interval value already worked out at this change counter, or None.

        A job changes status only in a write that bumps the change counter, so whether the
        daemon is busy (a job queued or running) is kept per counter value: a 304 to an
        unchanged store costs no query and no thread trip, only this lookup.
        """
        known = self._hint_at
        return known[1] if known is not None and known[0] == counter else None

    async def poll_hint(self, counter: int) -> str:
        """The X-Poll-Interval value at this change counter (see `known_poll_hint`). The query
        may see a newer state than the counter it is filed under; that answer is then used only
        until the next write is seen, and the hint is advice, not data."""
        hint = self.known_poll_hint(counter)
        if hint is None:
            busy = await self.run_blocking(self.store.has_active_jobs)
            hint = str(self.settings.poll_hint_ms(busy=busy))
            self._hint_at = (counter, hint)
        return hint

    async def run_build(self, func: Callable[..., T], *args: Any) -> T:
        """Run a cache-miss build on the build thread (see `build_executor`)."""
        return await asyncio.get_running_loop().run_in_executor(self.build_executor, func, *args)

    def _forget_store_version(self) -> None:
        self._store_version = None

    def uptime_seconds(self) -> int:
        return int(time.monotonic() - self.started_monotonic)

    def wake_worker(self) -> None:
        if self.worker is not None:
            self.worker.wake()


STATE: web.AppKey[ServerState] = web.AppKey("vpo_state", ServerState)
