"""Measure what a poll costs vpo-tui, and what an idle vpo-tui costs the terminal.

1. CPU time to apply one poll to a table of 1,000 jobs where 10 changed (row diff + update_cell),
   against clearing and refilling the same table; both include the repaint that follows.
2. Bytes written to the terminal and CPU used by the real `vpo-tui` binary in a pty over an idle
   stretch (nothing changes on the daemon), focused and then with focus lost (paused).

Run:  python benchmarks/tui_poll_cost.py [--idle-seconds 60]
Prints figures; asserts nothing (this is not a test).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import os
import pty
import select
import statistics
import struct
import sys
import tempfile
import termios
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from textual.app import App, ComposeResult

from tests.support.daemon import DaemonProcess, queue_empty_scans
from vpo_tui.jobview import job_cells
from vpo_tui.widgets.job_table import JobTable

ROWS = 1000
CHANGED = 10
REPEATS = 15


# Which rows change in a poll. The headline figure changes the first rows: in the default sort
# (newest first) the running jobs, the ones a poll changes, are near the top, all on screen:
# the worst case, every change painted. The scattered case (one row in a hundred, one of them on
# screen) is printed beside it, for a list sorted so the running jobs are spread out.
TOP_ROWS = frozenset(range(CHANGED))
SCATTERED_ROWS = frozenset(range(0, ROWS, ROWS // CHANGED))


def fake_jobs(count: int, generation: int, changing: frozenset[int] = TOP_ROWS) -> list[dict]:
    jobs = []
    for number in range(count):
        running = number in changing
        jobs.append(
            {
                "id": f"{number:08x}-0000-4000-8000-000000000000",
                "job_type": "scan",
                "status": "running" if running else "completed",
                "file_path": f"/srv/media/library/show {number}",
                "created_at": "2026-11-30T06:00:00.000Z",
                "progress_percent": (generation * 3 + number) % 100 if running else 100.0,
                "duration_seconds": generation if running else 5,
            }
        )
    return jobs


def rows_of(jobs: list[dict]) -> list:
    now = datetime.now().astimezone()
    return [(job["id"], job_cells(job, target_width=30, now=now)) for job in jobs]


class TableApp(App):
    def compose(self) -> ComposeResult:
        yield JobTable(id="jobs")


async def measure_apply() -> tuple[float, float, float]:
    """Median CPU milliseconds: (diff-and-patch, scattered diff-and-patch, clear-and-refill)."""
    app = TableApp()
    patch_times: list[float] = []
    scattered_times: list[float] = []
    refill_times: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.query_one(JobTable)
        table.apply_rows(rows_of(fake_jobs(ROWS, 0)))
        await pilot.pause()
        for generation in range(1, REPEATS + 1):
            new_rows = rows_of(fake_jobs(ROWS, generation))
            start = time.process_time()
            patch = table.apply_rows(new_rows)
            await pilot.pause()
            patch_times.append(time.process_time() - start)
            assert len(patch.updates) >= CHANGED and patch.rebuild is None

        table.apply_rows(rows_of(fake_jobs(ROWS, 0, SCATTERED_ROWS)))
        await pilot.pause()
        for generation in range(1, REPEATS + 1):
            new_rows = rows_of(fake_jobs(ROWS, generation, SCATTERED_ROWS))
            start = time.process_time()
            patch = table.apply_rows(new_rows)
            await pilot.pause()
            scattered_times.append(time.process_time() - start)
            assert len(patch.updates) >= CHANGED and patch.rebuild is None

        for generation in range(1, REPEATS + 1):
            new_rows = rows_of(fake_jobs(ROWS, generation))
            start = time.process_time()
            table.clear()
            for key, cells in new_rows:
                table.add_row(*table._render_row(key, cells), key=key)
            await pilot.pause()
            refill_times.append(time.process_time() - start)
    return tuple(
        statistics.median(times) * 1000 for times in (patch_times, scattered_times, refill_times)
    )


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def drain(fd: int, seconds: float) -> int:
    """Read everything the app writes for `seconds`; returns the byte count."""
    total = 0
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                total += len(os.read(fd, 65536))
            except OSError:
                break
    return total


def measure_idle(url: str, seconds: float) -> dict[str, float]:
    tui = Path(sys.executable).parent / "vpo-tui"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VPO_")}
    env.update(VPO_URL=url, TERM="xterm-256color")
    pid, fd = pty.fork()
    if pid == 0:
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        os.execve(str(tui), [str(tui), "--interval", "5"], env)
    try:
        startup_bytes = drain(fd, 6.0)  # start, first poll, first paint
        cpu0 = cpu_seconds(pid)
        idle_bytes = drain(fd, seconds)
        cpu1 = cpu_seconds(pid)
        os.write(fd, b"\x1b[O")  # the terminal reports focus lost
        drain(fd, 1.0)  # the PAUSED repaint
        cpu2 = cpu_seconds(pid)
        paused_bytes = drain(fd, seconds)
        cpu3 = cpu_seconds(pid)
        os.write(fd, b"q")
        drain(fd, 2.0)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 15)
        os.waitpid(pid, 0)
    return {
        "startup_bytes": startup_bytes,
        "idle_bytes": idle_bytes,
        "idle_cpu": cpu1 - cpu0,
        "paused_bytes": paused_bytes,
        "paused_cpu": cpu3 - cpu2,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    args = parser.parse_args()

    patch_ms, scattered_ms, refill_ms = asyncio.run(measure_apply())
    print(f"apply one poll, {ROWS} jobs, {CHANGED} changed (median of {REPEATS}, CPU):")
    print(f"  row diff + cell writes : {patch_ms:8.2f} ms  (the first {CHANGED} rows, on screen)")
    print(f"  clear and refill       : {refill_ms:8.2f} ms  ({refill_ms / patch_ms:.1f}x)")
    print(
        f"  scattered changes      : {scattered_ms:8.2f} ms  ({refill_ms / scattered_ms:.1f}x;"
        f" every {ROWS // CHANGED}th row, one on screen)"
    )

    with tempfile.TemporaryDirectory() as tmp, DaemonProcess(Path(tmp)) as daemon:
        queue_empty_scans(daemon.url, Path(tmp) / "empty", 3)
        figures = measure_idle(daemon.url, args.idle_seconds)
    scale = 60.0 / args.idle_seconds
    print(
        f"real vpo-tui in an 80x24 pty, interval 5 s, nothing changing ({args.idle_seconds:g} s):"
    )
    print(f"  start-up paint          : {figures['startup_bytes']:8.0f} bytes")
    print(
        f"  idle, focused           : {figures['idle_bytes'] * scale:8.0f} bytes/min, "
        f"{figures['idle_cpu'] * scale * 1000:6.0f} ms CPU/min"
    )
    print(
        f"  paused (focus lost)     : {figures['paused_bytes'] * scale:8.0f} bytes/min, "
        f"{figures['paused_cpu'] * scale * 1000:6.0f} ms CPU/min"
    )


if __name__ == "__main__":
    main()
