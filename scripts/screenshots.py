"""Make the documentation's pictures from the real programs against a demo daemon.

Run it through `scripts/screenshots [OUTDIR]` (default `docs/images/`). It starts a real
`vpo serve` on a free loopback port with a temporary data dir, gives it a small library of real
videos and drives real jobs into every state a screen can show (completed, failed, cancelled,
running, queued), then takes:

- `tui-jobs.svg`, `tui-detail.svg`: `vpo-tui`'s jobs and detail screens, exported by Textual
  itself (the app runs headless at 100x30 against the daemon);
- `tui-all.svg`: `vpo-tui --all` over the demo daemon ("films") and a second one ("tv") with
  two finished scans of its own, at 80x24 (the footer must fit there);
- `web-jobs.png`, `web-detail.png` (1280x800) and `web-jobs-phone.png`, `web-detail-phone.png`
  (390x844 at twice the pixel density): the web dashboard in headless Chromium.

The running job is held at a fixed point so every picture shows it mid-scan: its probe worker
is stopped with SIGSTOP on a file (what a stalled disk looks like to the daemon) and let go at
the end. Times in the pictures are the real (UTC) times of the run, so every run differs in its
pixels; `tests/integration/test_screenshots.py` checks that the script works, not what it drew.
`--tui-only` makes the terminal pictures alone (no Chromium needed).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

import httpx

# The daemon, the clips and the probe hold are the test suite's own helpers (tests/support/):
# the pictures are made the same way the tests drive the programs, so they cannot drift apart.
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support.daemon import DaemonProcess, wait_until  # noqa: E402
from tests.support.media import MediaCache, build_many, write_corrupt_video  # noqa: E402
from tests.support.probe_hold import HeldProbe  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
TUI_SIZE = (100, 30)
DESKTOP = {"viewport": {"width": 1280, "height": 800}, "device_scale_factor": 1}
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
# One probe at a time, so holding one probe holds the whole scan where it is.
DAEMON_CONFIG = {"jobs": {"probe_concurrency": 1}, "polling": {"interval_seconds": 2}}
WAIT = 60.0

# The library the demo daemon scans: folder -> {file name: clip kind}.
LIBRARY = {
    "Movies": {
        "Big Test Pattern (2024).mkv": "mkv_eng",
        "Small Pattern.mp4": "mp4_fra",
        "Two Tongues (2019).mkv": "mkv_eng_jpn",
    },
    "TV/Show A/Season 1": {
        "Show A - S01E01.mkv": "mkv_eng",
        "Show A - S01E02.mkv": "mkv_eng",
        "Show A - S01E03.mkv": "mkv_eng_jpn",
    },
}


class Demo:
    """The demo daemon and the jobs it holds, made through its HTTP API like a user would."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.media = workdir / "media"
        self.cache = MediaCache(workdir / "clip-cache")
        self.daemon = DaemonProcess(workdir, config=DAEMON_CONFIG)
        (workdir / "second").mkdir()
        self.second = DaemonProcess(workdir / "second", config=DAEMON_CONFIG)
        self.http = httpx.Client(base_url=self.daemon.url, timeout=10)
        self.held: HeldProbe | None = None
        self.running_id = ""

    def submit(self, path: Path) -> str:
        answer = self.http.post("/api/jobs", json={"job_type": "scan", "path": str(path)})
        answer.raise_for_status()
        return answer.json()["id"]

    def job(self, job_id: str) -> dict:
        answer = self.http.get(f"/api/jobs/{job_id}")
        answer.raise_for_status()
        return answer.json()

    def wait_status(self, job_id: str, *statuses: str) -> dict:
        return wait_until(
            lambda: (job := self.job(job_id))["status"] in statuses and job,
            timeout=WAIT,
            interval=0.05,
            message=f"job {job_id} never reached {statuses}",
        )

    def build_library(self) -> None:
        for folder, files in LIBRARY.items():
            for name, kind in files.items():
                self.cache.copy_to(kind, self.media / folder / name)
        write_corrupt_video(self.media / "Movies" / "Broken Download.mkv")
        # Long enough that the hold below catches it mid-scan: with 40 files PyAV sometimes
        # finished it (in 0.2 s) before the hold did, and the cancel then found it completed.
        build_many(self.media / "Archive", self.cache, 300)
        # Many files: probing takes about a millisecond each, and the scan must still be going
        # when the hold below catches its worker.
        build_many(self.media / "Recordings", self.cache, 600)
        (self.media / "Old Share").mkdir()
        (self.media / "Incoming").mkdir()

    def make_jobs(self) -> None:
        """Leave one job of every status, the running one held mid-scan."""
        media = self.media
        # A scan that gets cancelled while it runs: held on its first probe, so it is running
        # (and the worker busy) while the jobs behind it are queued.
        archive = self.submit(media / "Archive")
        with HeldProbe(self.daemon.pid):
            old_share = self.submit(media / "Old Share")
            # The share goes away before its turn comes: that scan fails, naming the folder.
            shutil.rmtree(media / "Old Share")
            movies = self.submit(media / "Movies")
            tv = self.submit(media / "TV")
            self.http.post(f"/api/jobs/{archive}/cancel", json={}).raise_for_status()
        self.wait_status(archive, "cancelled")
        self.wait_status(old_share, "failed")
        self.wait_status(movies, "completed")
        self.wait_status(tv, "completed")

        # The running scan: held once it has probed a good part of its files.
        self.running_id = self.submit(media / "Recordings")
        wait_until(
            lambda: self.job(self.running_id)["processed_count"] >= 24,
            timeout=WAIT,
            interval=0.02,
            message="the Recordings scan never got going",
        )
        self.held = HeldProbe(self.daemon.pid)
        self.submit(media / "Incoming")

        # The second daemon ("tv" in the --all picture): two finished scans of its own.
        with httpx.Client(base_url=self.second.url, timeout=10) as http:
            for folder in ("TV", "Movies"):
                answer = http.post(
                    "/api/jobs", json={"job_type": "scan", "path": str(media / folder)}
                )
                answer.raise_for_status()
                job_id = answer.json()["id"]
                wait_until(
                    lambda job_id=job_id: (
                        http.get(f"/api/jobs/{job_id}").json()["status"] == "completed"
                    ),
                    timeout=WAIT,
                    interval=0.05,
                    message="the second daemon's scan never completed",
                )

    def __enter__(self) -> Demo:
        self.build_library()
        self.daemon.start()
        self.second.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.held is not None:
            self.held.release()
        self.http.close()
        for daemon in (self.second, self.daemon):
            try:
                daemon.stop()
            finally:
                daemon.kill()


async def tui_pictures(demo: Demo, out: Path) -> list[Path]:
    """The jobs screen, then the running job's detail, as Textual's own SVG screenshots."""
    from vpo.client import AsyncVpoClient
    from vpo_tui.app import VpoTuiApp
    from vpo_tui.screens.detail import DetailScreen
    from vpo_tui.screens.jobs import JobsScreen

    url = demo.daemon.url
    app = VpoTuiApp(AsyncVpoClient(url), url=url)
    made = []
    async with app.run_test(size=TUI_SIZE) as pilot:

        async def until(condition, what: str) -> None:
            for _ in range(int(WAIT / 0.05)):
                if condition():
                    return
                await pilot.pause(0.05)
            raise TimeoutError(f"the TUI never showed {what}")

        await until(lambda: isinstance(app.screen, JobsScreen), "the jobs screen")
        jobs = app.screen
        await until(lambda: len(jobs.table.job_ids) == 6, "all six jobs")
        await until(lambda: "connected" in status_text(jobs), "a connected status line")
        while jobs.table.cursor_job_id != demo.running_id:
            await pilot.press("down")
        await pilot.pause()
        made.append(Path(app.save_screenshot("tui-jobs.svg", str(out))))

        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, DetailScreen), "the detail screen")
        detail = app.screen
        await until(lambda: detail.log_view.line_count > 3, "the log")
        await until(lambda: "connected" in status_text(detail), "a connected status line")
        await pilot.pause()
        made.append(Path(app.save_screenshot("tui-detail.svg", str(out))))
        await pilot.press("q")
    await app.client.aclose()
    made.append(await tui_all_picture(demo, out))
    return made


async def tui_all_picture(demo: Demo, out: Path) -> Path:
    """`vpo-tui --all` over both demo daemons at 80x24, the cursor on the running scan."""
    from vpo.client import AsyncVpoClient
    from vpo_tui.app import VpoTuiApp
    from vpo_tui.merged_list import row_key
    from vpo_tui.screens.multi_jobs import MultiJobsScreen

    feeds = [("films", AsyncVpoClient(demo.daemon.url)), ("tv", AsyncVpoClient(demo.second.url))]
    app = VpoTuiApp(feeds[0][1], url=feeds[0][1].base_url, feeds=feeds)
    async with app.run_test(size=(80, 24)) as pilot:

        async def until(condition, what: str) -> None:
            for _ in range(int(WAIT / 0.05)):
                if condition():
                    return
                await pilot.pause(0.05)
            raise TimeoutError(f"the TUI never showed {what}")

        await until(lambda: isinstance(app.screen, MultiJobsScreen), "the --all list")
        screen = app.screen
        await until(lambda: len(screen.table.job_ids) == 8, "the eight jobs of both daemons")
        await until(lambda: "films ● · tv ●" in status_text(screen), "both daemons connected")
        await until(lambda: "running" in str(screen.query_one("#stats").render()), "the counters")
        running = row_key("films", demo.running_id)
        while screen.table.cursor_job_id != running:
            await pilot.press("down")
        await pilot.pause()
        picture = Path(app.save_screenshot("tui-all.svg", str(out)))
        await pilot.press("q")
    for _name, client in feeds:
        await client.aclose()
    return picture


def status_text(screen: object) -> str:
    from vpo_tui.widgets.status_line import StatusLine

    return screen.query_one(StatusLine).plain_text  # type: ignore[attr-defined]


def web_pictures(demo: Demo, out: Path) -> list[Path]:
    """The list and the running job's page, at desktop and at phone width, from Chromium."""
    from playwright.sync_api import sync_playwright

    url = demo.daemon.url
    made = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        try:
            for suffix, device in (("", DESKTOP), ("-phone", PHONE)):
                context = browser.new_context(**device)
                page = context.new_page()
                for name, path in (("jobs", "/jobs"), ("detail", f"/jobs/{demo.running_id}")):
                    page.goto(url + path)
                    # Live: the first poll has answered and nothing is in flight.
                    page.wait_for_function(
                        "document.querySelector('#connection-status .connection-text')"
                        ".textContent === 'Connected'"
                    )
                    if name == "detail":
                        page.wait_for_selector("#job-log .log-line")
                    page.wait_for_load_state("networkidle")
                    target = out / f"web-{name}{suffix}.png"
                    page.screenshot(path=str(target))
                    made.append(target)
                context.close()
        finally:
            browser.close()
    return made


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "outdir", nargs="?", default=str(REPO / "docs" / "images"), help="default docs/images"
    )
    parser.add_argument(
        "--tui-only", action="store_true", help="only the vpo-tui pictures (no Chromium)"
    )
    options = parser.parse_args(argv)
    out = Path(options.outdir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="vpo-demo-") as workdir, Demo(Path(workdir)) as demo:
        demo.make_jobs()
        made = asyncio.run(tui_pictures(demo, out))
        if not options.tui_only:
            made += web_pictures(demo, out)
    for path in made:
        print(f"{path}  {path.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
