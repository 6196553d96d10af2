"""Measure start-up: `vpo-tui` launch to the first frame showing live rows, and `vpo --help`.

A real daemon with a few jobs runs from this checkout. For each source tree given (default: this
checkout), the installed `vpo-tui` and `vpo` scripts run with `PYTHONPATH=<tree>`:

1. `vpo-tui` in an 80x24 pty: wall time from the fork to the first output that contains a job's
   short id (the first frame with rows from the daemon), and the CPU time the process had used by
   then; then `q`.
2. `vpo --help`: wall and CPU time of the whole process.

CPU time is printed beside wall time because it is much less disturbed by the other work on a
shared machine (at a 10 ms tick: compare medians, not single runs).

Two rounds: "compiled", with each tree's `vpo` and `vpo_tui` byte-compiled first
(`compileall`, into the usual `__pycache__`), as an installed package is; and, with
`--from-source`, a first round where the trees' `__pycache__` directories are removed and
`PYTHONDONTWRITEBYTECODE=1` keeps it that way, as in an editable install (`maturin develop`)
used with that variable set: every start then also compiles the project's sources. Runs
alternate between the trees (after one warm-up run each), so a load change on this shared
machine hits all of them alike. Prints the median of the runs.

Run:  python benchmarks/startup.py [--runs 10] [--from-source] [--tree OTHER_CHECKOUT ...]
e.g. compare with the base commit:
    git worktree add /tmp/base-startup <commit> && cp vpo/_core.abi3.so /tmp/base-startup/vpo/
    python benchmarks/startup.py --tree /tmp/base-startup --tree .
Prints figures; asserts nothing (this is not a test).
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import fcntl
import os
import pty
import re
import select
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from tests.support.daemon import DaemonProcess, queue_empty_scans

BIN = Path(sys.executable).parent
ESCAPES = re.compile(rb"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")
FRAME_TIMEOUT_S = 30.0


def tree_env(tree: Path, url: str, from_source: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VPO_")}
    env.update(PYTHONPATH=str(tree), VPO_URL=url, TERM="xterm-256color")
    if from_source:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def remove_bytecode(tree: Path) -> None:
    for package in ("vpo", "vpo_tui"):
        for cache in (tree / package).rglob("__pycache__"):
            shutil.rmtree(cache)


def compile_bytecode(tree: Path) -> None:
    for package in ("vpo", "vpo_tui"):
        compileall.compile_dir(tree / package, quiet=1)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def time_to_rows(tree: Path, url: str, marker: bytes, from_source: bool) -> tuple[float, float]:
    """(wall, CPU) seconds from fork to the first output containing `marker`, for vpo-tui from
    `tree`."""
    env = tree_env(tree, url, from_source)
    tui = str(BIN / "vpo-tui")
    start = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        os.execve(tui, [tui], env)
    output = b""
    try:
        while True:
            left = start + FRAME_TIMEOUT_S - time.perf_counter()
            if left <= 0:
                raise TimeoutError(f"no frame with {marker!r} from {tree}")
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                output += os.read(fd, 65536)
                # Escape sequences can split a row's text; the id is looked for without them.
                if marker in ESCAPES.sub(b"", output):
                    return time.perf_counter() - start, cpu_seconds(pid)
    finally:
        with contextlib.suppress(OSError):
            os.write(fd, b"q")
        deadline = time.monotonic() + 10
        while os.waitpid(pid, os.WNOHANG) == (0, 0):
            with contextlib.suppress(OSError):
                select.select([fd], [], [], 0.05) and os.read(fd, 65536)
            if time.monotonic() > deadline:
                os.kill(pid, 9)
        os.close(fd)


def time_help(tree: Path, url: str, from_source: bool) -> tuple[float, float]:
    """(wall, CPU) seconds of `vpo --help` from `tree`."""
    env = tree_env(tree, url, from_source)
    start = time.perf_counter()
    process = subprocess.Popen([str(BIN / "vpo"), "--help"], env=env, stdout=subprocess.DEVNULL)
    _pid, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    assert process.returncode == 0, process.returncode
    return wall, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument(
        "--from-source",
        action="store_true",
        help="also measure without .pyc files for the trees (removes their __pycache__)",
    )
    parser.add_argument(
        "--tree", action="append", type=Path, help="source checkout to run (repeatable)"
    )
    args = parser.parse_args()
    trees = [tree.resolve() for tree in (args.tree or [Path(__file__).resolve().parents[1]])]

    with tempfile.TemporaryDirectory() as tmp, DaemonProcess(Path(tmp)) as daemon:
        jobs = queue_empty_scans(daemon.url, Path(tmp) / "empty", 3)
        # The newest job sorts first, so it is on the first frame with rows.
        marker = jobs[-1]["id"][:8].encode()
        rounds = (["from source"] if args.from_source else []) + ["compiled"]
        results = {
            name: measure_round(name, trees, daemon.url, marker, args.runs) for name in rounds
        }

    print(f"median of {args.runs} runs, ms (min-max); {os.cpu_count()} CPUs")
    for name, measured in results.items():
        print(f"{name}:")
        for tree in trees:
            print(f"  {tree}")
            for label, key in (("vpo-tui to first rows", "rows"), ("vpo --help", "help")):
                walls = [wall for wall, _cpu in measured[key][tree]]
                cpus = [cpu for _wall, cpu in measured[key][tree]]
                print(
                    f"    {label:22}: wall {statistics.median(walls) * 1000:5.0f}"
                    f" ({min(walls) * 1000:.0f}-{max(walls) * 1000:.0f}),"
                    f" CPU {statistics.median(cpus) * 1000:5.0f}"
                    f" ({min(cpus) * 1000:.0f}-{max(cpus) * 1000:.0f})"
                )


Timings = dict[Path, list[tuple[float, float]]]


def measure_round(
    name: str, trees: list[Path], url: str, marker: bytes, runs: int
) -> dict[str, Timings]:
    from_source = name == "from source"
    for tree in trees:
        (remove_bytecode if from_source else compile_bytecode)(tree)
    rows: Timings = {tree: [] for tree in trees}
    helps: Timings = {tree: [] for tree in trees}
    for tree in trees:  # warm-up: page cache
        time_to_rows(tree, url, marker, from_source)
        time_help(tree, url, from_source)
    for _ in range(runs):
        for tree in trees:
            rows[tree].append(time_to_rows(tree, url, marker, from_source))
            helps[tree].append(time_help(tree, url, from_source))
    return {"rows": rows, "help": helps}


if __name__ == "__main__":
    main()
