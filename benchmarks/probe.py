"""First-scan CPU time: one ffprobe per file against the PyAV worker pool, side by side.

Makes 1,000 real tiny clips (a few kinds encoded once with the system ffmpeg, then copied:
each file is a real clip of its own; cached in a temp dir between runs), then runs a first scan
of them with each prober, alternating, each in a fresh process with a fresh data dir. It prints,
per prober, the scan's wall time and its CPU seconds: the scanning process itself plus every
child it waited for (the ffprobe processes, or the pool's workers with their start-up and
`import av`), taken from wait4()'s resource usage, and the ratio of the two.

Run: python benchmarks/probe.py [--files N] [--repeat R] [--concurrency C] [--dir PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KINDS = {
    "h264-aac.mkv": ["-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac"],
    "h264-aac.mp4": ["-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac"],
    "vp9-opus.webm": ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-c:a", "libopus"],
    "mpeg4-mp3.avi": ["-c:v", "mpeg4", "-c:a", "libmp3lame"],
}


def make_clips(folder: Path, count: int) -> Path:
    """`count` clips under folder/clips-N, made once (a marker file says they are complete)."""
    library = folder / f"clips-{count}"
    if (library / ".complete").exists():
        return library
    shutil.rmtree(library, ignore_errors=True)
    originals = folder / "originals"
    originals.mkdir(parents=True, exist_ok=True)
    for name, codecs in KINDS.items():
        if not (originals / name).exists():
            picture = ["-f", "lavfi", "-i", "testsrc=duration=1:size=64x48:rate=5"]
            tone = ["-f", "lavfi", "-i", "sine=duration=1"]
            command = ["ffmpeg", "-nostdin", "-v", "error", "-y", *picture, *tone]
            command += [*codecs, "-shortest", str(originals / name)]
            subprocess.run(command, check=True)
    names = sorted(KINDS)
    for index in range(count):
        name = names[index % len(names)]
        folder_name = library / f"Show {index // 100:03d}"
        folder_name.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(originals / name, folder_name / f"E{index:04d}-{name}")
    (library / ".complete").write_text("")
    return library


def run_one_scan(root: str, prober: str, concurrency: int) -> None:
    """In the child: one first scan, then its own figures as JSON on stdout."""
    from vpo.joblog import JobLog
    from vpo.jobs import RUNNING, SCAN
    from vpo.scan import ScanOptions, run_scan
    from vpo.store import JobStore

    with tempfile.TemporaryDirectory() as data:
        store = JobStore(Path(data))
        job = store.create_job(SCAN, root, status=RUNNING)
        options = ScanOptions(roots=[root], probe_concurrency=concurrency, prober=prober)
        with JobLog(store.logs_dir, job.id) as log:
            summary = run_scan(store, job.id, options, log, lambda: False)
        store.close()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(
        json.dumps(
            {
                "summary": summary,
                "probe_children_cpu": children.ru_utime + children.ru_stime,
            }
        )
    )


def measure(root: Path, prober: str, concurrency: int) -> dict:
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, __file__, "--child", prober, str(root), str(concurrency)],
        stdout=subprocess.PIPE,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)),
    )
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"the {prober} scan failed")
    figures = json.loads(output)
    errors = figures["summary"]["errors"]
    if errors or figures["summary"]["probe_skipped"]:
        raise SystemExit(f"the {prober} scan did not probe every file: {figures['summary']}")
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,  # the scan process and all it waited for
        "probe_children_cpu": figures["probe_children_cpu"],
    }


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        run_one_scan(sys.argv[3], sys.argv[2], int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=2, help="jobs.probe_concurrency")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "vpo-bench-probe")
    args = parser.parse_args()

    root = make_clips(args.dir, args.files)
    print(f"{args.files} clips in {root}; probe_concurrency {args.concurrency}")
    best: dict[str, dict] = {}
    for round_number in range(args.repeat):
        for prober in ("ffprobe", "av"):  # alternating, so both see the same machine load
            figures = measure(root, prober, args.concurrency)
            print(
                f"  round {round_number + 1} {prober:8s} wall {figures['wall']:6.2f} s  "
                f"cpu {figures['cpu']:6.2f} s  "
                f"(probe processes {figures['probe_children_cpu']:.2f} s)"
            )
            if prober not in best or figures["cpu"] < best[prober]["cpu"]:
                best[prober] = figures
    ffprobe, av = best["ffprobe"], best["av"]
    print()
    print(f"{'prober':10s} {'wall s':>8s} {'CPU s':>8s} {'CPU ms/file':>12s}")
    for name, figures in (("ffprobe", ffprobe), ("PyAV pool", av)):
        per_file = 1000 * figures["cpu"] / args.files
        print(f"{name:10s} {figures['wall']:8.2f} {figures['cpu']:8.2f} {per_file:12.2f}")
    print(
        f"PyAV pool uses {ffprobe['cpu'] / av['cpu']:.1f}x less CPU "
        f"and {ffprobe['wall'] / av['wall']:.1f}x less wall time (target: >= 20x less CPU)"
    )


if __name__ == "__main__":
    main()
