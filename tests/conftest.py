"""Shared pytest fixtures. Helpers live in tests/support/; fixtures that wrap them live here."""

from collections.abc import Callable, Iterator

import pytest

from tests.browser.checklist.engines import ENGINES
from tests.support.daemon import DaemonProcess
from tests.support.media import MediaCache, SampleLibrary, build_library


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--engine",
        action="append",
        choices=ENGINES,
        help="run the browser tests in this engine only (repeatable; default: all three)",
    )


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


# --- media fixtures (tests/support/media.py) -----------------------------------------------


@pytest.fixture(scope="session")
def media_cache(tmp_path_factory: pytest.TempPathFactory) -> MediaCache:
    """Videos encoded by ffmpeg once per session; tests get copies."""
    return MediaCache(tmp_path_factory.mktemp("media-cache"))


@pytest.fixture
def sample_library(tmp_path, media_cache: MediaCache) -> SampleLibrary:
    """A fresh library of real videos under tmp_path/library (tv, tv2, movies, a non-video)."""
    return build_library(tmp_path / "library", media_cache)
