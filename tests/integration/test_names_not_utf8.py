"""File and folder names that are not valid UTF-8, through the real daemon, API and CLI.

A NAS that received files over SMB from an old Windows, or by a Latin-1 rsync, holds names such
as b"bad\\xff.mkv". They must be scanned like any other file, round-trip to the exact bytes (so a
rescan matches them and "missing" works), and read as `bad\\xff.mkv` with a not-UTF-8 flag or note
wherever a path is shown. The clips are real videos (tests/support/media.py), probed by the real
ffprobe; the daemon is a real `vpo serve` subprocess.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import httpx

from tests.support.daemon import VPO_EXECUTABLE, DaemonProcess, wait_until
from tests.support.media import MediaCache, write_corrupt_video
from vpo.store import JobStore

NOTE = "not UTF-8: bytes shown as \\xNN"


def make_library(tmp_path: Path, media_cache: MediaCache) -> bytes:
    """good.mkv, bad\\xff.mkv (a real clip), broken\\xe9.mkv (corrupt), Am\\xe9lie/e1.mkv."""
    root = os.fsencode(tmp_path / "lib")
    os.makedirs(root + b"/Am\xe9lie")
    media_cache.copy_to("mkv_eng", tmp_path / "lib" / "good.mkv")
    for name in (b"/bad\xff.mkv", b"/Am\xe9lie/e1.mkv"):
        with open(root + name, "wb") as handle:
            handle.write(media_cache.original("mkv_eng").read_bytes())
    write_corrupt_video(Path(os.fsdecode(root + b"/broken\xe9.mkv")))
    return root


def wait_for_end(http: httpx.Client, job_id: str) -> dict:
    def ended() -> dict | None:
        job = http.get(f"/api/jobs/{job_id}").json()
        return job if job["status"] in ("completed", "failed", "cancelled") else None

    return wait_until(ended, timeout=90)


def scan(http: httpx.Client, body: dict) -> dict:
    response = http.post("/api/jobs", json={"job_type": "scan", **body})
    assert response.status_code == 201, response.text
    return wait_for_end(http, response.json()["id"])


def vpo(daemon: DaemonProcess, *args: str | bytes) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VPO_")}
    env.update({"VPO_URL": daemon.url, "NO_COLOR": "1", "COLUMNS": "300"})
    return subprocess.run(
        [os.fsencode(VPO_EXECUTABLE), *(os.fsencode(a) for a in args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_folder_with_such_names_scans_rescans_and_marks_missing(
    daemon: DaemonProcess, tmp_path: Path, media_cache: MediaCache
) -> None:
    root = make_library(tmp_path, media_cache)
    bad, broken = os.fsdecode(root + b"/bad\xff.mkv"), os.fsdecode(root + b"/broken\xe9.mkv")
    readable_root = str(tmp_path / "lib")
    with daemon.client() as http:
        first = scan(http, {"path": readable_root})
        assert first["status"] == "completed", first
        assert (first["summary_raw"]["found"], first["summary_raw"]["errors"]) == (4, 1)

        # Recorded, hashed and probed like any other file, under its exact bytes.
        with JobStore(daemon.data_dir) as store:
            record = store.get_file(bad)
            assert record is not None and os.fsencode(record.path) == root + b"/bad\xff.mkv"
            assert record.scan_status == "ok" and record.content_hash
            assert record.container and [s.codec_name for s in record.streams] == ["h264", "aac"]
            assert store.get_file(os.fsdecode(root + b"/Am\xe9lie/e1.mkv")).container

        # The API names the broken one readably, with the flag.
        errors = http.get(f"/api/jobs/{first['id']}/errors").json()["errors"]
        assert [(e["path"], e["path_is_utf8"]) for e in errors] == [
            (readable_root + "/broken\\xe9.mkv", False)
        ]
        # ffprobe's own quote of the path is dropped, as for any other name.
        assert errors[0]["message"] == "probe failed: Invalid data found when processing input"
        log = "\n".join(http.get(f"/api/jobs/{first['id']}/logs").json()["lines"])
        assert f"ERROR {readable_root}/broken\\xe9.mkv: probe failed" in log

        # A rescan matches every row again: nothing new, nothing re-probed.
        second = scan(http, {"path": readable_root})
        raw = second["summary_raw"]
        assert second["status"] == "completed", second
        assert (raw["added"], raw["skipped"], raw["removed"]) == (0, 4, 0)

        os.unlink(os.fsencode(bad))
        third = scan(http, {"path": readable_root})
        assert (third["status"], third["summary_raw"]["removed"]) == ("completed", 1)
        with JobStore(daemon.data_dir) as store:
            assert store.get_file(bad).scan_status == "missing"
            assert store.get_file(broken).scan_status == "error"

    shown = vpo(daemon, "jobs", "errors", first["id"])
    assert shown.returncode == 0, shown.stderr
    assert f"{readable_root}/broken\\xe9.mkv ({NOTE}): probe failed" in shown.stdout


def test_post_and_scan_async_on_a_directory_that_is_not_utf8(
    daemon: DaemonProcess, tmp_path: Path, media_cache: MediaCache
) -> None:
    root = make_library(tmp_path, media_cache)
    folder = root + b"/Am\xe9lie"
    escaped = str(tmp_path / "lib") + "/Am\\xe9lie"
    with daemon.client() as http:
        # The escaped form, flagged, is how JSON carries the name.
        response = http.post(
            "/api/jobs", json={"job_type": "scan", "path": escaped, "path_is_utf8": False}
        )
        assert response.status_code == 201, response.text
        queued = response.json()
        assert (queued["file_path"], queued["file_path_is_utf8"]) == (escaped, False)
        done = wait_for_end(http, queued["id"])
        assert (done["status"], done["summary_raw"]["found"]) == ("completed", 1), done
        assert http.get("/api/jobs", params={"search": "lie"}).json()["total"] == 1
        # The web pages say it too (the first render; format.js is held to the same vectors).
        page = http.get(f"/jobs/{queued['id']}").text
        assert f'<span data-field="file_path">{escaped}</span>' in page
        assert f">{NOTE}</span>" in page
        assert f'title="{escaped} ({NOTE})"' in http.get("/jobs").text

        # Without the flag, a lone surrogate (what a Python client's json.dumps sends) and a
        # bad escape are refused with a 400 naming `path`, not a 500.
        for body in (
            b'{"job_type": "scan", "path": "/tmp/Am\\udce9lie"}',
            b'{"job_type": "scan", "path": "/tmp/Am\\\\q", "path_is_utf8": false}',
        ):
            refused = http.post(
                "/api/jobs", content=body, headers={"Content-Type": "application/json"}
            )
            assert refused.status_code == 400, refused.text
            assert refused.json()["details"]["parameter"] == "path"

    # `vpo scan --async` with the raw bytes as its argument.
    submitted = vpo(daemon, "scan", "--async", folder)
    assert submitted.returncode == 0, submitted.stderr
    job_id = submitted.stdout.strip()
    waited = vpo(daemon, "jobs", "wait", job_id, "--timeout", "90")
    assert waited.returncode == 0, waited.stdout + waited.stderr
    shown = vpo(daemon, "jobs", "show", job_id)
    assert f"{escaped} ({NOTE})" in shown.stdout
    assert re.search(rf"^\s*target\s+{re.escape(escaped)} ", shown.stdout, re.M)
    listed = vpo(daemon, "jobs", "list")
    assert escaped in listed.stdout and "Traceback" not in listed.stderr
    with JobStore(daemon.data_dir) as store:
        assert store.get_job(job_id).params["paths"] == [os.fsdecode(folder)]


def test_the_cli_shows_invisible_characters_in_names_escaped(
    daemon: DaemonProcess, tmp_path: Path, media_cache: MediaCache
) -> None:
    # U+202E makes the corrupt file read "holidayvkm.png" in a terminal; U+2066 and U+200B in
    # the folder name are invisible.
    folder = tmp_path / "show\u2066x\u200b"
    media_cache.copy_to("mkv_eng", folder / "fine.mkv")
    write_corrupt_video(folder / "holiday\u202egnp.mkv")
    shown_folder = str(tmp_path / "show\\u2066x\\u200b")
    shown_file = f"{shown_folder}/holiday\\u202egnp.mkv"
    with daemon.client() as http:
        job = scan(http, {"path": str(folder)})
        assert job["status"] == "completed", job
        assert job["file_path"] == str(folder)  # the API sends the name as it is
        pages = http.get("/jobs").text + http.get(f"/jobs/{job['id']}").text
    assert shown_folder in pages and f"ERROR {shown_file}" in pages
    assert not any(ch in pages for ch in "\u202e\u2066\u200b")

    outputs = {
        "list": vpo(daemon, "jobs", "list").stdout,
        "show": vpo(daemon, "jobs", "show", job["id"]).stdout,
        "errors": vpo(daemon, "jobs", "errors", job["id"]).stdout,
        "logs": vpo(daemon, "jobs", "logs", job["id"]).stdout,
    }
    assert shown_folder in outputs["list"]
    assert re.search(rf"^\s*target\s+{re.escape(shown_folder)}$", outputs["show"], re.M)
    assert f"{shown_file}: probe failed" in outputs["errors"]
    assert f"ERROR {shown_file}: probe failed" in outputs["logs"]
    for name, output in outputs.items():
        assert not any(ch in output for ch in "\u202e\u2066\u200b"), name

    # The foreground scan in this process prints the same way.
    data_dir = tmp_path / "foreground-data"
    foreground = vpo(daemon, "scan", str(folder), "--local", "--data-dir", str(data_dir))
    assert foreground.returncode == 0, foreground.stderr
    assert f"error: {shown_file}: probe failed" in foreground.stdout
    assert "\u202e" not in foreground.stdout + foreground.stderr
