"""The daemon's 304 and cached-200 paths against the framework's floor, measured with `wrk`.

    python benchmarks/http_floor.py [--seconds 8] [--connections 50] [--rounds 2]
                                    [--old-tree /path/to/another/checkout]

The floor is a bare aiohttp application (one handler, no middleware) that answers every GET
with the same JSON body as the daemon's cached `GET /api/jobs` page, served the same way
(AppRunner, TCPSite, no access log). Against it, a real `vpo serve` holding a few ended jobs:

- `304`:        `GET /api/jobs` with `If-None-Match` naming the current tag (what a poller sends).
- `cached 200`: `GET /api/jobs` without it (the body from the response cache).

`--old-tree` also starts a daemon from another checkout (PYTHONPATH selects the code, e.g. a
`git worktree` of main), so old and new are measured in the same run. The cases take turns,
`--rounds` times; each figure is the median. `wrk` runs one thread; the server and `wrk` share
the machine's cores, as every figure here does. Prints req/s, the server's CPU per request
(from /proc) and the ratio to the floor. Needs `wrk` on PATH (Debian: apt-get install wrk).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.support: the same daemon launcher as the tests

from tests.support.daemon import DaemonProcess, free_port, queue_empty_scans, wait_until  # noqa: E402

FLOOR_APP = textwrap.dedent(
    """
    import asyncio, sys
    from aiohttp import web

    body = open(sys.argv[2], "rb").read()

    async def handler(request):
        return web.Response(body=body, content_type="application/json")

    async def main():
        app = web.Application()
        app.router.add_get("/{tail:.*}", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", int(sys.argv[1])).start()
        print("ready", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())
    """
)


@dataclass
class Case:
    name: str
    url: str
    pid: int
    headers: dict[str, str] = field(default_factory=dict)
    rates: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc), its threads included."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_wrk(case: Case, seconds: float, connections: int) -> None:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s"]
    for name, value in case.headers.items():
        command += ["-H", f"{name}: {value}"]
    cpu_before = process_cpu_seconds(case.pid)
    output = subprocess.run([*command, case.url], capture_output=True, text=True, check=True).stdout
    cpu = process_cpu_seconds(case.pid) - cpu_before
    total = int(re.search(r"(\d+) requests in", output).group(1))
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    if "Non-2xx or 3xx responses" in output:
        raise SystemExit(f"{case.name}: wrk saw errors:\n{output}")
    case.rates.append(rate)
    case.cpu_ms.append(cpu * 1000 / max(1, total))


def start_daemon(tmp: Path, label: str, tree: Path, jobs: int) -> tuple[DaemonProcess, str, bytes]:
    """A daemon running the code of `tree`, holding `jobs` ended jobs; (daemon, tag, body)."""
    daemon = DaemonProcess(tmp / label, env={"PYTHONPATH": str(tree)})
    (tmp / label).mkdir()
    daemon.start()
    queue_empty_scans(daemon.url, tmp / label / "empty", jobs)
    with httpx.Client(base_url=daemon.url) as http:

        def all_ended() -> bool:
            body = http.get("/api/jobs").json()
            return all(job["status"] == "completed" for job in body["jobs"])

        wait_until(all_ended, timeout=60, interval=0.1)
        response = http.get("/api/jobs")
        again = http.get("/api/jobs", headers={"If-None-Match": response.headers["ETag"]})
        assert again.status_code == 304, again.status_code
    return daemon, response.headers["ETag"], response.content


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="per case and round")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=3, help="ended jobs the daemon lists")
    parser.add_argument("--old-tree", type=Path, help="another checkout to measure beside this")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not on PATH (Debian: apt-get install wrk)")

    trees = [("new", ROOT)] + ([("old", args.old_tree.resolve())] if args.old_tree else [])
    with tempfile.TemporaryDirectory(prefix="vpo-http-floor-") as tmp_name:
        tmp = Path(tmp_name)
        daemons = []
        cases: list[Case] = []
        try:
            body = b""
            for label, tree in trees:
                daemon, tag, body = start_daemon(tmp, label, tree, args.jobs)
                daemons.append(daemon)
                url = f"{daemon.url}/api/jobs"
                cases.append(Case(f"{label} 304", url, daemon.pid, {"If-None-Match": tag}))
                cases.append(Case(f"{label} cached 200", url, daemon.pid))
            (tmp / "body.json").write_bytes(body)
            port = free_port()
            floor = subprocess.Popen(
                [sys.executable, "-c", FLOOR_APP, str(port), str(tmp / "body.json")],
                stdout=subprocess.PIPE,
                text=True,
            )
            try:
                assert floor.stdout is not None and floor.stdout.readline().strip() == "ready"
                floor_case = Case("floor (bare aiohttp)", f"http://127.0.0.1:{port}/", floor.pid)
                cases.insert(0, floor_case)
                print(
                    f"wrk -t1 -c{args.connections}, {args.seconds:g} s per case, "
                    f"{args.rounds} rounds, body {len(body)} bytes; cases take turns",
                    flush=True,
                )
                for round_number in range(args.rounds):
                    for case in cases:
                        run_wrk(case, args.seconds, args.connections)
                        print(
                            f"  round {round_number + 1}: {case.name:<22} "
                            f"{case.rates[-1]:8.0f} req/s",
                            flush=True,
                        )
            finally:
                floor.terminate()
                floor.wait()
        finally:
            for daemon in daemons:
                daemon.stop()

    floor_rate = statistics.median(floor_case.rates)
    print()
    print(f"{'case':<22} {'req/s':>8} {'x floor':>8} {'CPU/req':>10}   (medians)")
    for case in cases:
        rate = statistics.median(case.rates)
        print(
            f"{case.name:<22} {rate:8.0f} {rate / floor_rate:8.2f} "
            f"{statistics.median(case.cpu_ms):7.3f} ms"
        )
    print(f"finished at {time.strftime('%H:%M:%S')}")


if __name__ == "__main__":
    main()
