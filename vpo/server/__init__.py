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
from typing import Any, TypeVar

from aiohttp import web

from vpo.server.etag import ResponseCache
from vpo.store import JobStore
from vpo.worker import Worker

T = TypeVar("T")

# Enough threads that a slow read (a big count on a NAS disk) does not queue every poll behind
# it, few enough for a two-core box.
READ_THREADS = 4


@dataclass
class ServerState:
    """Everything a handler needs: the store, the worker, the settings, read threads, caches."""

    store: JobStore
    worker: Worker | None
    settings: Any  # vpo.config.Settings
    version: str
    started_monotonic: float = field(default_factory=time.monotonic)
    shutting_down: bool = False
    cache: ResponseCache = field(default_factory=ResponseCache)
    executor: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(READ_THREADS, thread_name_prefix="vpo-read")
    )
    # Builds in flight, so fifty pollers that miss the cache at once cause one query, not fifty.
    inflight: dict[Any, asyncio.Future] = field(default_factory=dict)

    async def read(self, func: Callable[..., T], *args: Any) -> T:
        """Run a blocking read (SQLite, a file) on the read threads, never on the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, func, *args)

    def uptime_seconds(self) -> int:
        return int(time.monotonic() - self.started_monotonic)

    def wake_worker(self) -> None:
        if self.worker is not None:
            self.worker.wake()


STATE: web.AppKey[ServerState] = web.AppKey("vpo_state", ServerState)
