"""The change counter every polled answer is tagged with, read on the event loop (issue 11).

Real store, real event loop. The read is shared only within one turn of the loop, and its
connection does not wait for locks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from vpo.config import load_settings
from vpo.server import ServerState
from vpo.store import JobStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[JobStore]:
    with JobStore(tmp_path / "data") as opened:
        yield opened


def server_state(store: JobStore) -> ServerState:
    settings, _ = load_settings({"data_dir": store.data_dir}, {}, check_bind=False)
    return ServerState(store=store, worker=None, settings=settings, version="test")


def test_one_read_per_turn_of_the_loop_and_a_write_seen_by_the_next(store: JobStore) -> None:
    state = server_state(store)

    async def turns() -> tuple[int, int, int]:
        first = await state.store_version()
        store.create_job("scan", "/tv")  # committed during this turn, after the read
        same_turn = await state.store_version()
        await asyncio.sleep(0)  # the next turn: requests received now must see the write
        next_turn = await state.store_version()
        return first, same_turn, next_turn

    first, same_turn, next_turn = asyncio.run(turns())
    assert same_turn == first
    assert next_turn == first + 1 == store.change_counter()
    state.executor.shutdown()


def test_the_loop_read_uses_a_connection_that_does_not_wait_for_locks(store: JobStore) -> None:
    # A WAL reader cannot be made to wait while the store itself is open (an exclusive
    # connection cannot start), so the setting is what is checked: a lock that would make this
    # connection wait raises StoreBusy at once, and the caller reads on a thread instead.
    assert store.change_counter_nowait() == store.change_counter()
    connection = store._local.nowait
    assert connection.execute("PRAGMA busy_timeout").fetchone()[0] == 0
    assert connection.execute("PRAGMA query_only").fetchone()[0] == 1
    store.create_job("scan", "/tv")
    assert store.change_counter_nowait() == store.change_counter()
