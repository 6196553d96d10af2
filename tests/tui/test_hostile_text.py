"""Daemon strings are data: markup-looking paths show as typed, escape sequences never reach
the terminal. The paths and the log lines come from a real scan of real directories."""

from __future__ import annotations

from rich.text import Text

from tests.support.media import write_corrupt_video
from tests.tui.harness import (
    detail_screen,
    get_job,
    jobs_screen,
    screen_text,
    submit_scan,
    wait_daemon,
    wait_for,
)
from vpo_tui.plaintext import strip_escapes

HOSTILE_DIRS = ("rsync [/tmp/x]", "[bold]x")
EVIL_NAME = "evil\x1b[31mred\x1b]0;pwned\x07\x1b[2J.mkv"


def test_strip_escapes_removes_sequences_and_controls():
    assert strip_escapes("a\x1b[31mred\x1b[0m b") == "ared b"
    assert strip_escapes("t\x1b]0;title\x07x") == "tx"
    assert strip_escapes("t\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\") == "tlink"
    assert strip_escapes("bell\x07 nul\x00 del\x7f c1\x9b31m") == "bell nul del c1"
    assert strip_escapes("tab\there") == "tab    here"
    assert strip_escapes("[bold]x[/bold]") == "[bold]x[/bold]"


async def test_markup_in_paths_and_escapes_in_logs(
    daemon, media_cache, tmp_path, make_app, scheduler
):
    jobs = {}
    for name in HOSTILE_DIRS:
        folder = tmp_path / "lib" / name
        media_cache.copy_to("mkv_eng", folder / "a.mkv")
        jobs[name] = submit_scan(daemon.url, str(folder))
    evil_dir = tmp_path / "lib" / "evil"
    write_corrupt_video(evil_dir / EVIL_NAME)
    evil = submit_scan(daemon.url, str(evil_dir))
    for job in [*jobs.values(), evil]:
        wait_daemon(lambda job=job: get_job(daemon.url, job["id"])["status"] == "completed")

    app = make_app(daemon.url)
    async with app.run_test(size=(200, 30)) as pilot:
        screen = await jobs_screen(pilot, app)
        text = screen_text(app)
        for name in HOSTILE_DIRS:
            assert f"{name}" in text, f"{name!r} not shown as typed"
        cells = [screen.table.get_row(job["id"])[4] for job in jobs.values()]
        assert all(type(cell) is Text and not cell.spans for cell in cells)

        # The corrupt file's name carries escape sequences into the job's log.
        raw_log = "\n".join(_log_lines(daemon.url, evil["id"]))
        assert "\x1b[31m" in raw_log  # the daemon sends them as they are
        while screen.table.cursor_job_id != evil["id"]:
            await pilot.press("down")
        await pilot.press("enter")
        detail = await detail_screen(pilot, app)
        await wait_for(pilot, lambda: detail.log_view.line_count >= 3)
        shown = "\n".join(detail.log_view.lines)
        # CSI colour, OSC title request and screen clear are all dropped whole.
        assert "evilred.mkv" in shown
        assert "\x1b" not in shown and "\x07" not in shown
        screen_now = screen_text(app)
        assert "\x1b" not in screen_now


def _log_lines(url: str, job_id: str) -> list[str]:
    import httpx

    with httpx.Client(base_url=url, timeout=10) as http:
        return http.get(f"/api/jobs/{job_id}/logs").json()["lines"]
