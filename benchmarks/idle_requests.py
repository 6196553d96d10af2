"""Requests per idle hour of one web page + one TUI, before and after the X-Poll-Interval hint.

    python benchmarks/idle_requests.py [--seconds 60]

Two real `vpo serve` daemons run side by side, both with the shortest interval the rules allow
(2 s) so a short run sees enough polls:

- `before`: `polling.idle_interval_seconds = 2`, so the hint always equals the interval: clients
  poll exactly as they did before the hint existed.
- `after`:  the default idle interval, 4 x the interval (8 s here).

Each daemon is watched by the real clients: one web page's poller (`polling.js` with its
`fetchJson`, run by node, polling `/api/jobs` with ETags as `jobs.js` does) and one `vpo-tui`
(the real app, headless, in its own process, with its real timers). Every request is counted as
it leaves the client. Two windows of `--seconds` each: idle (no job), then busy (a `running`
job seeded into each daemon's database, which the worker never picks up), the window in which
"how fast a new job appears" is decided: it must not change.

The counts are scaled to an hour at the 2 s interval of the run, and converted to the default
5 s interval by the ratio of the intervals (polls are one per interval, so the rate scales
exactly by it); the rules' figures for 5 s are printed beside them for comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.support: the same daemon launcher as the tests

from tests.support.daemon import DaemonProcess  # noqa: E402
from vpo.config import polling_rules  # noqa: E402
from vpo.jobs import RUNNING  # noqa: E402
from vpo.store import JobStore  # noqa: E402

RUN_INTERVAL_S = 2
DEFAULT_INTERVAL_S = 5
WARM_UP_S = 3.0

WEB_PAGE_JS = r"""
// One jobs page's poller, as static/js/jobs.js runs it, minus the DOM: prints one line per poll.
const P = require(process.argv[2]);
const base = process.argv[3];
const rules = JSON.parse(require('fs').readFileSync(process.argv[4], 'utf8'));
const intervalMs = Number(process.argv[5]);
let etag = null;
let poller = null;
async function poll(signal) {
    process.stdout.write('poll\n');
    const r = await P.fetchJson(base + '/api/jobs', { signal, etag });
    poller.noteHint(r.pollIntervalMs);
    if (!r.notModified) {
        etag = r.etag;
    }
    return null;
}
poller = P.createPoller({
    task: poll, intervalMs, rules, startDelayMs: intervalMs, pauseWhenHidden: false,
    env: { document: null, window: null },
});
poller.start();
"""

TUI_PY = r"""
# The real vpo-tui app, headless, with its real timers: prints one line per request it sends.
import asyncio, sys
from vpo.client import AsyncVpoClient
from vpo_tui.app import VpoTuiApp

class PrintingClient(AsyncVpoClient):
    async def execute(self, call):
        print("poll", call.path, flush=True)
        return await super().execute(call)

async def main(url):
    app = VpoTuiApp(PrintingClient(url), url=url)
    async with app.run_test(size=(100, 30)):
        await asyncio.Event().wait()

asyncio.run(main(sys.argv[1]))
"""


@dataclass
class Counter:
    """Arrival times of one client's request lines."""

    name: str
    times: list[float] = field(default_factory=list)

    def between(self, start: float, end: float) -> int:
        return sum(1 for moment in self.times if start <= moment < end)


def follow(process: subprocess.Popen[str], counter: Counter, only: str | None = None) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("poll") and (only is None or only in line):
            counter.times.append(time.monotonic())


def start_clients(daemon: DaemonProcess, workdir: Path) -> tuple[list[subprocess.Popen], list]:
    web_js = workdir / "web_page.js"
    web_js.write_text(WEB_PAGE_JS)
    tui_py = workdir / "tui_client.py"
    tui_py.write_text(TUI_PY)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    web = subprocess.Popen(
        [
            "node",
            str(web_js),
            str(ROOT / "vpo/server/static/js/polling.js"),
            daemon.url,
            str(ROOT / "vpo/polling_rules.json"),
            str(RUN_INTERVAL_S * 1000),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    tui = subprocess.Popen(
        [sys.executable, str(tui_py), daemon.url], stdout=subprocess.PIPE, text=True, env=env
    )
    counters = [Counter("web page"), Counter("vpo-tui")]
    for process, counter in zip((web, tui), counters, strict=True):
        # The TUI's one GET /api/config/polling at start is not a poll: count the list polls.
        only = "/api/jobs" if counter.name == "vpo-tui" else None
        threading.Thread(target=follow, args=(process, counter, only), daemon=True).start()
    return [web, tui], counters


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each window")
    args = parser.parse_args()

    rules = polling_rules()
    factor = rules["hint"]["idle_factor_default"]
    with tempfile.TemporaryDirectory(prefix="vpo-idle-bench-") as tmp:
        workdir = Path(tmp)
        for name in ("before", "after"):
            (workdir / name).mkdir()
        polling = {"interval_seconds": RUN_INTERVAL_S}
        daemons = {
            "before": DaemonProcess(
                workdir / "before",
                data_dir=workdir / "before-data",
                config={"polling": {**polling, "idle_interval_seconds": RUN_INTERVAL_S}},
            ),
            "after": DaemonProcess(
                workdir / "after", data_dir=workdir / "after-data", config={"polling": polling}
            ),
        }
        processes: list[subprocess.Popen] = []
        counters: dict[str, list[Counter]] = {}
        try:
            for name, daemon in daemons.items():
                daemon.start()
                started, counted = start_clients(daemon, workdir)
                processes += started
                counters[name] = counted
            time.sleep(WARM_UP_S)
            idle_start = time.monotonic()
            time.sleep(args.seconds)
            idle_end = time.monotonic()
            for daemon in daemons.values():
                with JobStore(daemon.data_dir) as store:
                    store.create_job("scan", str(workdir), status=RUNNING)
            # One poll at the old pace may still be pending: let it land before counting.
            time.sleep(factor * RUN_INTERVAL_S)
            busy_start = time.monotonic()
            time.sleep(args.seconds)
            busy_end = time.monotonic()
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
            for daemon in daemons.values():
                daemon.stop()

    scale_hour = 3600 / args.seconds
    to_default = RUN_INTERVAL_S / DEFAULT_INTERVAL_S
    print(
        f"windows of {args.seconds:g} s at a {RUN_INTERVAL_S} s interval "
        f"(idle hint {RUN_INTERVAL_S * factor} s after); per hour = count x {scale_hour:g}; "
        f"at the default {DEFAULT_INTERVAL_S} s interval = per hour x {to_default:g}"
    )
    print(f"{'':8} {'client':9} {'idle':>5} {'busy':>5}  {'idle/h @2s':>10} {'idle/h @5s':>10}")
    totals: dict[str, float] = {}
    busy_totals: dict[str, int] = {}
    for name, counted in counters.items():
        for counter in counted:
            idle = counter.between(idle_start, idle_end)
            busy = counter.between(busy_start, busy_end)
            per_hour = idle * scale_hour
            totals[name] = totals.get(name, 0) + per_hour * to_default
            busy_totals[name] = busy_totals.get(name, 0) + busy
            print(
                f"{name:8} {counter.name:9} {idle:5d} {busy:5d}  {per_hour:10.0f} "
                f"{per_hour * to_default:10.0f}"
            )
    rule_before = 2 * 3600 / DEFAULT_INTERVAL_S
    rule_after = 2 * 3600 / (DEFAULT_INTERVAL_S * factor)
    print(
        f"idle requests per hour, web page + TUI at {DEFAULT_INTERVAL_S} s: "
        f"before {totals['before']:.0f}, after {totals['after']:.0f} "
        f"({totals['before'] / max(totals['after'], 1):.1f}x fewer); "
        f"the rules say {rule_before:.0f} and {rule_after:.0f}"
    )
    print(
        f"busy window, both clients: before {busy_totals['before']} requests, "
        f"after {busy_totals['after']} (the same pace: a new job appears as fast as before)"
    )
    print(json.dumps({"idle_per_hour": totals, "busy_counts": busy_totals}))


if __name__ == "__main__":
    main()
