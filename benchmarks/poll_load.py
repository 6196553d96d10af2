"""Poll load on `GET /api/jobs`: N concurrent pollers against a daemon holding 100,000 jobs.

    python benchmarks/poll_load.py [--jobs 100000] [--pollers 50] [--seconds 8]
                                   [--interval 0] [--scan-files 4000]

Seeds the jobs straight into a temporary data dir with `JobStore`, starts a real `vpo serve`,
then measures, idle and while a large scan runs (real videos, hard links of one small encoding
made with ffmpeg, probed by the daemon's worker):

- `plain`:       every poll is a full `GET /api/jobs` (200 with the body).
- `etag`:        every poll sends `If-None-Match` with the last tag (304 while nothing changed).
- `uncached`:    every poll asks another page (offset < 5000), so every answer runs the query
                 and the serialisation: what a 200 costs without the response cache.

`--old-tree PATH` runs the same cases, idle, against a second daemon running another checkout
(PYTHONPATH selects the code; e.g. a `git worktree` of main) on a copy of the same jobs, case by
case in turn, and prints the uncached sweep side by side with the issue's targets (at least 2x
the old req/s, p99 under 100 ms, daemon CPU at most 1.5 ms per request). The jobs are then
seeded by the old checkout, whose schema the new one migrates. Both daemons' resident memory is
printed fresh and after the load (VmRSS, idle again).

Each poller issues its next request as soon as the previous one ends (`--interval 0`, a closed
loop that saturates the daemon) or every `--interval` seconds (paced, like real clients).
Prints requests per second, p50/p99 latency and the daemon's CPU time per request (from /proc;
while the scan runs it includes the scan's own work in the daemon process) per case. Pollers run
in this process and compete with the daemon for the same CPUs; the figures include that. The
load generator is aiohttp's client: httpx's async client needs ~15x more CPU per request at 50
concurrent connections here, so it would measure itself rather than the daemon.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.support: the same daemon launcher and videos as the tests

from tests.support.daemon import DaemonProcess, wait_until  # noqa: E402
from tests.support.media import MediaCache, build_many  # noqa: E402
from vpo.jobs import CANCELLED, COMPLETED, FAILED, RUNNING, utc_now  # noqa: E402
from vpo.store import JobStore  # noqa: E402


@dataclass
class Figures:
    case: str
    requests: int
    seconds: float
    latencies_ms: list[float]
    statuses: dict[int, int]
    daemon_cpu_seconds: float = 0.0

    @property
    def cpu_ms_per_request(self) -> float:
        return self.daemon_cpu_seconds * 1000 / max(1, self.requests)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]

    def line(self) -> str:
        codes = ", ".join(f"{code}: {count}" for code, count in sorted(self.statuses.items()))
        return (
            f"{self.case:<22} {self.rate:8.0f} req/s   p50 {self.percentile(0.50):7.1f} ms   "
            f"p99 {self.percentile(0.99):7.1f} ms   mean {statistics.fmean(self.latencies_ms):6.1f}"
            f" ms   daemon CPU {self.cpu_ms_per_request:5.2f} ms/req   ({codes})"
        )


def seed_jobs(data_dir: Path, count: int) -> float:
    """`count` terminal jobs (completed, failed, cancelled), oldest first; returns seconds."""
    started = time.perf_counter()
    outcomes = (COMPLETED, COMPLETED, COMPLETED, FAILED, CANCELLED)
    summary = {"found": 10, "scanned": 10, "skipped": 0, "added": 10, "removed": 0, "errors": 0,
               "probe_skipped": False}  # fmt: skip
    with JobStore(data_dir) as store:
        for number in range(count):
            job = store.create_job("scan", f"/media/library/show-{number:06d}", status=RUNNING)
            outcome = outcomes[number % len(outcomes)]
            store.finish_job(
                job.id,
                outcome,
                summary_raw=summary if outcome == COMPLETED else None,
                error_message="ffprobe failed" if outcome == FAILED else None,
            )
            if number and number % 20000 == 0:
                print(f"  seeded {number} jobs", flush=True)
    return time.perf_counter() - started


async def poll(url: str, case: str, pollers: int, seconds: float, interval: float) -> Figures:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    deadline = time.monotonic() + seconds

    async def poller(index: int, session: aiohttp.ClientSession) -> None:
        tag: str | None = None
        number = 0
        while time.monotonic() < deadline:
            params: dict[str, str] = {}
            headers: dict[str, str] = {}
            if case == "uncached":
                # A page not asked for recently (5000 offsets cycle through a 512-entry cache),
                # near the top of the list like real pages: the full query and serialisation.
                params["offset"] = str((index * 100 + number) % 5000)
            if case == "etag" and tag:
                headers["If-None-Match"] = tag
            started = time.perf_counter()
            async with session.get(f"{url}/api/jobs", params=params, headers=headers) as response:
                await response.read()
            latencies.append((time.perf_counter() - started) * 1000)
            statuses[response.status] = statuses.get(response.status, 0) + 1
            tag = response.headers.get("ETag", tag)
            number += 1
            if interval:
                await asyncio.sleep(interval)

    connector = aiohttp.TCPConnector(limit=pollers)
    async with aiohttp.ClientSession(connector=connector) as session:
        async with session.get(f"{url}/api/jobs") as warm:  # the connection and the cache
            await warm.read()
        started = time.monotonic()
        await asyncio.gather(*(poller(index, session) for index in range(pollers)))
        elapsed = time.monotonic() - started
    return Figures(case, len(latencies), elapsed, latencies, statuses)


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc), its threads included."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_cases(daemon: DaemonProcess, label: str, args: argparse.Namespace) -> list[Figures]:
    return [run_case(daemon, label, case, args) for case in ("plain", "etag", "uncached")]


def run_case(daemon: DaemonProcess, label: str, case: str, args: argparse.Namespace) -> Figures:
    cpu_before = process_cpu_seconds(daemon.pid)
    figures = asyncio.run(poll(daemon.url, case, args.pollers, args.seconds, args.interval))
    figures.daemon_cpu_seconds = process_cpu_seconds(daemon.pid) - cpu_before
    figures.case = f"{label} {case}"
    print(figures.line(), flush=True)
    return figures


def resident_mb(pid: int) -> float:
    """The process's resident memory (VmRSS), MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def seed_with(tree: Path, data_dir: Path, count: int) -> None:
    """Seed with the code of `tree` (a subprocess), so an older checkout can open the jobs."""
    code = (
        "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]); "
        "import poll_load; "
        "print(f'  done in {poll_load.seed_jobs(Path(sys.argv[2]), int(sys.argv[3])):.1f} s')"
    )
    env = {**os.environ, "PYTHONPATH": str(tree)}
    subprocess.run(
        [sys.executable, "-c", code, str(tree / "benchmarks"), str(data_dir), str(count)],
        env=env,
        check=True,
    )


def side_by_side(args: argparse.Namespace, tmp_path: Path) -> None:
    """New and old daemons on copies of the same jobs, idle, cases in turn; the sweep verdict."""
    seeded = args.seeded_dir or tmp_path / "seeded"
    if (seeded / "vpo.db").exists():
        print(f"reusing the jobs seeded in {seeded}", flush=True)
    else:
        print(f"seeding {args.jobs} jobs with {args.old_tree} ...", flush=True)
        seed_with(args.old_tree.resolve(), seeded, args.jobs)
    daemons = {}
    for label, tree in (("new", ROOT), ("old", args.old_tree.resolve())):
        data_dir = tmp_path / f"{label}-data"
        shutil.copytree(seeded, data_dir)
        daemons[label] = DaemonProcess(
            tmp_path / label, data_dir=data_dir, env={"PYTHONPATH": str(tree)}
        )
        (tmp_path / label).mkdir()
    fresh: dict[str, float] = {}
    results: dict[str, dict[str, Figures]] = {"new": {}, "old": {}}
    try:
        for label, daemon in daemons.items():
            daemon.start(timeout=120)  # the new one migrates 100,000 jobs first
            fresh[label] = resident_mb(daemon.pid)
        mode = f"every {args.interval:g} s" if args.interval else "closed loop"
        print(f"\n{args.pollers} pollers, {args.seconds:g} s per case, {mode}, idle", flush=True)
        for case in ("plain", "etag", "uncached"):
            for label, daemon in daemons.items():
                results[label][case] = run_case(daemon, label, case, args)
        after = {label: resident_mb(daemon.pid) for label, daemon in daemons.items()}
    finally:
        for daemon in daemons.values():
            daemon.stop()
    new, old = results["new"]["uncached"], results["old"]["uncached"]
    print()
    print(
        f"uncached offset sweep: new {new.rate:.0f} req/s = {new.rate / old.rate:.2f}x old "
        f"({old.rate:.0f}) [target >= 2x], p99 {new.percentile(0.99):.1f} ms "
        f"(old {old.percentile(0.99):.1f}) [target < 100], daemon CPU "
        f"{new.cpu_ms_per_request:.2f} ms/req (old {old.cpu_ms_per_request:.2f}) [target <= 1.5]"
    )
    for label in ("new", "old"):
        by_case = results[label]
        print(
            f"{label}: CPU per request: 304 {by_case['etag'].cpu_ms_per_request:.2f} ms, cached "
            f"200 {by_case['plain'].cpu_ms_per_request:.2f} ms, uncached 200 "
            f"{by_case['uncached'].cpu_ms_per_request:.2f} ms; resident memory fresh "
            f"{fresh[label]:.0f} MiB, after the load {after[label]:.0f} MiB"
        )
    print(f"finished at {utc_now():%H:%M:%S} UTC")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--pollers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=8.0, help="per case")
    parser.add_argument("--interval", type=float, default=0.0, help="pause between polls")
    parser.add_argument("--scan-files", type=int, default=4000)
    parser.add_argument(
        "--seeded-dir",
        type=Path,
        help="keep the seeded data dir here and reuse it on the next run (seeding takes minutes)",
    )
    parser.add_argument("--old-tree", type=Path, help="another checkout to compare, idle only")
    args = parser.parse_args()

    if args.old_tree:
        with tempfile.TemporaryDirectory(prefix="vpo-poll-load-") as tmp:
            side_by_side(args, Path(tmp))
        return

    with tempfile.TemporaryDirectory(prefix="vpo-poll-load-") as tmp:
        tmp_path = Path(tmp)
        daemon = DaemonProcess(tmp_path, data_dir=args.seeded_dir)
        if args.seeded_dir and (args.seeded_dir / "vpo.db").exists():
            print(f"reusing the jobs seeded in {args.seeded_dir}", flush=True)
        else:
            print(f"seeding {args.jobs} jobs into {daemon.data_dir} ...", flush=True)
            print(f"  done in {seed_jobs(daemon.data_dir, args.jobs):.1f} s", flush=True)
        library = build_many(tmp_path / "library", MediaCache(tmp_path / "media"), args.scan_files)

        with daemon:
            mode = f"every {args.interval:g} s" if args.interval else "closed loop"
            print(f"\n{args.pollers} pollers, {args.seconds:g} s per case, {mode}", flush=True)
            idle = run_cases(daemon, "idle", args)

            with daemon.client() as http:
                job = http.post(
                    "/api/jobs", json={"job_type": "scan", "path": str(library.root)}
                ).json()

                def probing() -> bool:
                    state = http.get(f"/api/jobs/{job['id']}").json()
                    return state["status"] == RUNNING and state["phase"] == "probe"

                wait_until(probing, timeout=120, interval=0.2)
                scanning = run_cases(daemon, "scan", args)
                state = http.get(f"/api/jobs/{job['id']}").json()
                verdict = "still running" if state["status"] == RUNNING else "ENDED too early"
                done = f"{state['processed_count']} of {state['total_count']} files"
                print(f"(scan {verdict}: {done})")
                http.post(f"/api/jobs/{job['id']}/cancel", json={})

    print()
    for label, results in (("idle", idle), ("scan", scanning)):
        by_case = {figures.case.split()[1]: figures for figures in results}
        etag_cpu = by_case["etag"].cpu_ms_per_request
        print(
            f"{label}: daemon CPU per request: 304 path {etag_cpu:.2f} ms, cached 200 "
            f"{by_case['plain'].cpu_ms_per_request:.2f} ms, uncached 200 "
            f"{by_case['uncached'].cpu_ms_per_request:.2f} ms "
            f"({by_case['uncached'].cpu_ms_per_request / max(etag_cpu, 1e-9):.1f}x the 304 path)"
        )
    print(f"finished at {utc_now():%H:%M:%S} UTC")


if __name__ == "__main__":
    main()
