"""The probe worker pool under crashes and hangs, and the scan around it.

Real worker processes probe real clips. A crash is a real SIGKILL sent to the worker while it is
on a file. A hang cannot be had from FFmpeg on demand, so it is injected: the worker's test hook
(`VPO_PROBE_WORKER_HANG_ON`, vpo/probe_worker.py) makes it stop on a named file with the file
open; the pool's deadline and kill are the real ones, with a short timeout instead of 60 s.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest

from tests.support.daemon import wait_until
from tests.support.media import MediaCache, build_many
from tests.support.probe_hold import is_probe_worker
from vpo.joblog import JobLog
from vpo.jobs import RUNNING, SCAN
from vpo.probe_pool import Crashed, Probed, ProbePool, TimedOut, Unavailable, death_detail
from vpo.probe_worker import HANG_FOR_TESTS_ENV
from vpo.scan import ScanCancelled, ScanOptions, run_scan
from vpo.store import JobStore

SHORT_TIMEOUT = 3.0


def worker_on(path: Path, pids: list[int]) -> int | None:
    """The worker among `pids` that has `path` open (where the injected hang holds it)."""
    for pid in pids:
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(fd) == str(path):
                    return pid
            except OSError:
                continue
    return None


def probe_workers_of(parent: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and is_probe_worker(int(entry.name)):
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2 :].split()[1]) == parent:
                pids.append(int(entry.name))
    return pids


def run_all(pool: ProbePool, paths: list[Path], on_wait=None) -> dict[Path, object]:
    outcomes: dict[Path, object] = {}
    waiting = list(paths)
    while waiting or pool.busy:
        while waiting and pool.has_room():
            path = waiting.pop(0)
            pool.submit(str(path), path)
        for path, outcome in pool.wait(0.1):
            outcomes[path] = outcome
        if on_wait is not None:
            on_wait()
    return outcomes


@pytest.fixture
def clips(tmp_path, media_cache: MediaCache) -> list[Path]:
    library = build_many(tmp_path / "lib", media_cache, 6)
    return sorted(library.videos.values())


def test_a_worker_killed_mid_file_is_that_file_crashed_and_the_rest_is_probed(clips, monkeypatch):
    victim = clips[2]
    monkeypatch.setenv(HANG_FOR_TESTS_ENV, victim.name)  # holds the worker on it until killed
    killed: list[int] = []

    def kill_the_worker_on_the_victim() -> None:
        pid = worker_on(victim, pool.worker_pids())
        if pid is not None and not killed:
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    with ProbePool(2, 60) as pool:
        outcomes = run_all(pool, clips, kill_the_worker_on_the_victim)
        assert killed and killed[0] not in pool.worker_pids()
    assert outcomes[victim] == Crashed("killed by SIGKILL")
    assert all(isinstance(outcomes[c], Probed) for c in clips if c != victim)


def test_a_crashed_worker_is_replaced_for_the_next_file(clips, monkeypatch):
    monkeypatch.setenv(HANG_FOR_TESTS_ENV, clips[0].name)
    with ProbePool(1, 60) as pool:
        pool.submit(str(clips[0]), clips[0])
        first = wait_until(lambda: worker_on(clips[0], pool.worker_pids()), timeout=30)
        os.kill(first, signal.SIGKILL)
        assert wait_until(lambda: pool.wait(0.5), timeout=30) == [
            (clips[0], Crashed("killed by SIGKILL"))
        ]
        outcomes = run_all(pool, clips[1:])
        assert pool.started == 2 and first not in pool.worker_pids()
    assert all(isinstance(outcome, Probed) for outcome in outcomes.values())


def test_a_hung_worker_times_out_is_replaced_and_the_rest_is_probed(clips, monkeypatch):
    monkeypatch.setenv(HANG_FOR_TESTS_ENV, clips[0].name)
    with ProbePool(1, SHORT_TIMEOUT) as pool:
        outcomes = run_all(pool, clips)
        assert pool.started == 2
    assert outcomes[clips[0]] == TimedOut(SHORT_TIMEOUT)
    assert all(isinstance(outcomes[c], Probed) for c in clips[1:])


def test_closing_the_pool_ends_every_worker_busy_or_idle(clips, monkeypatch):
    monkeypatch.setenv(HANG_FOR_TESTS_ENV, clips[0].name)
    pool: ProbePool[Path] = ProbePool(2, 60)
    pool.submit(str(clips[0]), clips[0])  # hangs
    pool.submit(str(clips[1]), clips[1])  # answers, then waits idle for more
    wait_until(lambda: any(pool.wait(0.1)), timeout=30)
    pids = pool.worker_pids()
    assert len(pids) == 2
    pool.close()
    assert probe_workers_of(os.getpid()) == []
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists()


def test_a_worker_without_av_says_so_and_the_pool_takes_no_more_files(clips, tmp_path):
    # A broken install: an `av` package that fails to import, first on the worker's path.
    shadow = tmp_path / "shadow"
    (shadow / "av").mkdir(parents=True)
    (shadow / "av" / "__init__.py").write_text("raise ImportError('libavformat.so.62: gone')\n")
    env = dict(os.environ, PYTHONPATH=f"{shadow}:{os.environ.get('PYTHONPATH', '')}")
    with ProbePool(1, 30, env=env) as pool:
        pool.submit(str(clips[0]), clips[0])
        outcomes = wait_until(lambda: pool.wait(0.5), timeout=30)
        assert not pool.has_room()
    assert outcomes == [(clips[0], Unavailable("cannot import av: libavformat.so.62: gone"))]


def test_death_detail_names_the_signal():
    assert death_detail(-signal.SIGSEGV) == "killed by SIGSEGV"
    assert death_detail(3) == "exit status 3"


# -- the scan around the pool ------------------------------------------------------------------


def test_a_scan_records_a_crash_and_a_hang_as_one_error_each_and_completes(
    tmp_path, media_cache, monkeypatch
):
    library = build_many(tmp_path / "lib", media_cache, 12)
    crashing, hanging = library.root / "show/E003.mkv", library.root / "show/E007.mkv"
    monkeypatch.setenv(HANG_FOR_TESTS_ENV, f"{crashing.name}/{hanging.name}")
    store = JobStore(tmp_path / "data")
    job = store.create_job(SCAN, str(library.root), status=RUNNING)
    result: dict = {}

    def scan() -> None:
        with JobLog(store.logs_dir, job.id) as log:
            options = ScanOptions(
                roots=[str(library.root)], probe_concurrency=2, probe_timeout=SHORT_TIMEOUT
            )
            result["summary"] = run_scan(store, job.id, options, log, lambda: False)

    thread = threading.Thread(target=scan)
    thread.start()
    try:
        pid = wait_until(
            lambda: worker_on(crashing, probe_workers_of(os.getpid())),
            timeout=60,
            message="no worker ever got to the file to crash",
        )
        os.kill(pid, signal.SIGKILL)
    finally:
        thread.join(timeout=120)
    summary = result["summary"]
    assert (summary["found"], summary["scanned"], summary["errors"]) == (12, 12, 2)
    errors, total = store.file_errors(job.id, limit=10, offset=0)
    assert total == 2
    assert {(e.path, e.message) for e in errors} == {
        (str(crashing), "probe crashed (killed by SIGKILL)"),
        (str(hanging), "probe timed out after 3 s"),
    }
    for path in library.videos.values():
        if path not in (crashing, hanging):
            record = store.get_file(str(path))
            assert record.scan_status == "ok" and record.streams, path
    # A crash or a timeout is not a verdict on the content: the next scan tries again.
    assert store.known_files([str(library.root)])[str(crashing)].error_kind is None
    assert probe_workers_of(os.getpid()) == []
    store.close()


def test_without_av_in_the_workers_the_scan_falls_back_to_ffprobe(
    tmp_path, media_cache, monkeypatch
):
    library = build_many(tmp_path / "lib", media_cache, 3)
    shadow = tmp_path / "shadow"
    (shadow / "av").mkdir(parents=True)
    (shadow / "av" / "__init__.py").write_text("raise ImportError('no av here')\n")
    monkeypatch.setenv("PYTHONPATH", f"{shadow}:{os.environ.get('PYTHONPATH', '')}")
    store = JobStore(tmp_path / "data")
    job = store.create_job(SCAN, str(library.root), status=RUNNING)
    with JobLog(store.logs_dir, job.id) as log:
        summary = run_scan(store, job.id, ScanOptions(roots=[str(library.root)]), log, lambda: 0)
    assert (summary["scanned"], summary["errors"], summary["probe_skipped"]) == (3, 0, False)
    for path in library.videos.values():
        record = store.get_file(str(path))
        assert record.container == "matroska,webm" and len(record.streams) == 2
    text = (store.logs_dir / f"{job.id}.log").read_text()
    assert "PyAV cannot probe: cannot import av: no av here" in text
    assert "3 files probed with PyAV then ffprobe" in text
    store.close()


def test_a_cancel_ends_a_scan_whose_worker_hangs_at_once(tmp_path, media_cache, monkeypatch):
    library = build_many(tmp_path / "lib", media_cache, 4)
    stuck = library.root / "show/E001.mkv"
    monkeypatch.setenv(HANG_FOR_TESTS_ENV, stuck.name)  # hangs far longer than the test waits
    store = JobStore(tmp_path / "data")
    job = store.create_job(SCAN, str(library.root), status=RUNNING)
    cancel = threading.Event()
    outcome: dict = {}

    def scan() -> None:
        options = ScanOptions(roots=[str(library.root)], probe_concurrency=1, probe_timeout=600)
        with JobLog(store.logs_dir, job.id) as log:
            try:
                run_scan(store, job.id, options, log, cancel.is_set)
            except ScanCancelled as exc:
                outcome["cancelled"] = exc.summary

    thread = threading.Thread(target=scan)
    thread.start()
    wait_until(lambda: worker_on(stuck, probe_workers_of(os.getpid())), timeout=60)
    cancel.set()
    thread.join(timeout=30)  # the 600 s probe timeout is not waited for
    assert not thread.is_alive()
    assert outcome["cancelled"]["scanned"] == 1  # E000, before the hang
    assert probe_workers_of(os.getpid()) == []
    store.close()
