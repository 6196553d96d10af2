"""Peak memory of a first scan of 100,000 files: the daemon's and the foreground `vpo scan`'s.

Builds a tree of N real tiny clips (hard links of one clip encoded with the system ffmpeg: the
scan hashes and probes every one as a file of its own, at almost no disk cost), then:

- starts a real `vpo serve` with a fresh data dir, submits a scan of the tree over HTTP and
  samples the daemon's VmHWM (peak resident set, /proc/<pid>/status) until the job ends;
- runs `vpo scan` in the foreground with another fresh data dir and reads its peak RSS
  (ru_maxrss from wait4()).

Probe workers are processes of their own and are not part of either figure (their peak is
printed beside it). Target (issue 11): the daemon's peak <= 120 MB.

Run: python benchmarks/scan_rss.py [--files N] [--dir PATH] [--skip-foreground]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

VPO = Path(sys.executable).with_name("vpo")
LINKS_PER_COPY = 50_000


def make_tree(folder: Path, count: int) -> Path:
    root = folder / f"tree-{count}"
    if (root / ".complete").exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    clip = folder / "clip.mkv"
    if not clip.exists():
        picture = ["-f", "lavfi", "-i", "testsrc=duration=1:size=64x48:rate=5"]
        codec = ["-c:v", "libx264", "-preset", "ultrafast"]
        subprocess.run(
            ["ffmpeg", "-nostdin", "-v", "error", "-y", *picture, *codec, str(clip)], check=True
        )
    for index in range(count):
        show = root / f"Show {index // 1000:03d}" / f"Season {index // 100 % 10:02d}"
        if index % 100 == 0:
            show.mkdir(parents=True, exist_ok=True)
        # A file system allows only so many links to one inode (ext4: 65,000): a copy per
        # LINKS_PER_COPY files.
        source = folder / f"clip-{index // LINKS_PER_COPY}.mkv"
        if not source.exists():
            shutil.copyfile(clip, source)
        os.link(source, show / f"Episode {index:06d}.mkv")
    (root / ".complete").write_text("")
    return root


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def worker_peaks(parent: int) -> list[int]:
    peaks = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if b"vpo.probe_worker" not in (entry / "cmdline").read_bytes():
                continue
            if status_kib(int(entry.name), "PPid") == parent:
                peaks.append(status_kib(int(entry.name), "VmHWM"))
        except OSError:
            continue
    return peaks


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def daemon_scan(root: Path, work: Path) -> None:
    data = work / "daemon-data"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VPO_")}
    daemon = subprocess.Popen(
        [str(VPO), "serve", "--data-dir", str(data), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url, timeout=10) as http:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if http.get("/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("the daemon did not start")
                time.sleep(0.1)
            idle = status_kib(daemon.pid, "VmHWM")
            started = time.monotonic()
            job = http.post("/api/jobs", json={"job_type": "scan", "path": str(root)}).json()
            workers: list[int] = []
            while True:
                state = http.get(f"/api/jobs/{job['id']}").json()
                workers = max(workers, worker_peaks(daemon.pid), key=lambda p: sum(p))
                if state["status"] in ("completed", "failed", "cancelled"):
                    break
                time.sleep(0.5)
            peak = status_kib(daemon.pid, "VmHWM")
        print(
            f"daemon      {state['status']} in {time.monotonic() - started:6.1f} s: "
            f"peak RSS {peak / 1024:6.1f} MB (before the scan {idle / 1024:.1f} MB); "
            f"probe workers' peaks {', '.join(f'{p / 1024:.1f}' for p in workers) or '-'} MB"
        )
        print(f"            summary {state['summary_raw']}")
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)


def foreground_scan(root: Path, work: Path) -> None:
    data = work / "foreground-data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VPO_")}
    started = time.monotonic()
    process = subprocess.Popen(
        [str(VPO), "scan", str(root), "--data-dir", str(data)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # Only the process itself: ru_maxrss of wait4() is the largest of it and its children.
    peak = 0
    while process.poll() is None:
        try:
            peak = max(peak, status_kib(process.pid, "VmHWM"))
        except OSError:
            break
        time.sleep(0.25)
    print(
        f"foreground  exit {process.returncode} in {time.monotonic() - started:6.1f} s: "
        f"peak RSS {peak / 1024:6.1f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "vpo-bench-rss")
    parser.add_argument("--skip-foreground", action="store_true")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    root = make_tree(args.dir, args.files)
    print(f"{args.files} files under {root}")
    with tempfile.TemporaryDirectory(dir=args.dir) as work:
        daemon_scan(root, Path(work))
        if not args.skip_foreground:
            foreground_scan(root, Path(work))
    print("target: daemon peak RSS <= 120 MB")


if __name__ == "__main__":
    main()
