"""Shared pytest fixtures. Helpers live in tests/support/; fixtures that wrap them live here."""

from collections.abc import Callable, Iterator

import pytest

from tests.support.daemon import DaemonProcess

# --- daemon fixtures (tests/support/daemon.py) ---------------------------------------------


@pytest.fixture
def daemon_factory(tmp_path) -> Iterator[Callable[..., DaemonProcess]]:
    """Make (not start) DaemonProcess objects in this test's tmp dir; all are stopped at the end.

    Each call gets its own data dir unless `data_dir` is given, e.g.
    `d = daemon_factory(token="x" * 16).start()`.
    """
    made: list[DaemonProcess] = []

    def make(**kwargs) -> DaemonProcess:
        kwargs.setdefault("data_dir", tmp_path / f"vpo-data-{len(made)}")
        proc = DaemonProcess(tmp_path, **kwargs)
        made.append(proc)
        return proc

    yield make
    for proc in made:
        try:
            proc.stop()
        finally:
            proc.kill()


@pytest.fixture
def daemon(daemon_factory) -> DaemonProcess:
    """A started `vpo serve` on a free loopback port, no auth, temp data dir."""
    return daemon_factory().start()
