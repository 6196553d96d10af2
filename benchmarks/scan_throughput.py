"""Files per second for discovery and hashing: the Rust core beside a pure-Python baseline.

    python benchmarks/scan_throughput.py [--files 100000] [--dir DIR] [--keep] [--rounds 2]

Generates a library-shaped tree (shows / seasons / episodes, a mix of video and other files,
sizes from a few bytes to a few hundred KiB so both hashing paths are used), then times:

- discovery: `vpo._core.discover` vs a recursive `os.scandir` walk that stats each matching file;
- hashing: `vpo._core.hash_files` vs the same head/tail reads (whole file up to 128 KiB, else the
  first and last 64 KiB) hashed sequentially with `hashlib.blake2b` (xxHash is not in the stdlib).

Both sides read a warm page cache (each round runs both, the first round warms it), so the
figures compare the walking and hashing work, not the disk. A benchmark, never run as a test.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

from vpo import _core
from vpo.config import DEFAULT_EXTENSIONS

SMALL_LIMIT = 128 * 1024
CHUNK = 64 * 1024


def write_video(path: Path, size: int, head: bytes, tail: bytes) -> None:
    """A file of `size` bytes with real bytes at both ends and a hole between (sparse): the
    hashers read the same 64 KiB at each end as for a real video, at a fraction of the disk."""
    with open(path, "wb") as handle:
        handle.write(head)
        if size > len(head) + len(tail):
            handle.seek(size - len(tail))
            handle.write(tail)
        handle.truncate(size)


def generate_tree(root: Path, files: int, seed: int = 1) -> int:
    """Write `files` files under root; returns how many are videos. Deterministic per seed."""
    rng = random.Random(seed)
    payload = rng.randbytes(64 * 1024)
    videos = 0
    per_season, seasons_per_show = 25, 4
    for number in range(files):
        show, rest = divmod(number, per_season * seasons_per_show)
        season, episode = divmod(rest, per_season)
        folder = root / f"Show {show:05d}" / f"Season {season + 1:02d}"
        if episode == 0:
            folder.mkdir(parents=True, exist_ok=True)
        if number % 10 == 9:  # subtitles and artwork live beside the videos
            (folder / f"E{episode:02d}.srt").write_bytes(payload[: rng.randint(10, 4000)])
            continue
        ext = DEFAULT_EXTENSIONS[number % len(DEFAULT_EXTENSIONS)]
        name = f"E{episode:02d}.{ext.upper() if number % 7 == 0 else ext}"
        offset = rng.randrange(0, 60 * 1024)
        head, tail = payload[offset : offset + 4096], payload[-offset - 4096 : -offset or None]
        if number % 5 == 0:  # short clips: hashed whole
            write_video(folder / name, rng.randint(1, SMALL_LIMIT), head, tail)
        else:  # episodes and films, 100 MiB to 4 GiB: head and tail hashed
            write_video(folder / name, rng.randint(100 << 20, 4 << 30), head, tail)
        videos += 1
    return videos


def python_discover(roots: list[str], extensions: tuple[str, ...]) -> list[tuple[str, int, float]]:
    """The baseline walker: recursive os.scandir, stat per matching file, hidden dirs skipped."""
    wanted = {f".{ext.lower()}" for ext in extensions}
    found: list[tuple[str, int, float]] = []

    def walk(directory: str) -> None:
        with os.scandir(directory) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if not entry.name.startswith("."):
                        walk(entry.path)
                elif os.path.splitext(entry.name)[1].lower() in wanted:
                    stat = entry.stat()
                    found.append((entry.path, stat.st_size, stat.st_mtime))

    for root in roots:
        walk(root)
    found.sort()
    return found


def python_hash(paths: list[str]) -> list[str]:
    """The baseline hasher: the same bytes as the Rust core reads, hashed with blake2b."""
    digests = []
    for path in paths:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            digest = hashlib.blake2b(digest_size=8)
            if size <= SMALL_LIMIT:
                digest.update(handle.read())
            else:
                digest.update(handle.read(CHUNK))
                handle.seek(size - CHUNK)
                digest.update(handle.read(CHUNK))
            digest.update(size.to_bytes(8, "little"))
            digests.append(digest.hexdigest())
    return digests


def timed(function, *args):
    started = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=100_000, help="files in the tree")
    parser.add_argument("--dir", type=Path, help="where to build the tree (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the tree afterwards")
    parser.add_argument("--rounds", type=int, default=2, help="rounds; the best is reported")
    args = parser.parse_args(argv)

    base = args.dir or Path(tempfile.mkdtemp(prefix="vpo-bench-"))
    root = base / "library"
    try:
        if not root.exists():
            print(f"generating {args.files:,} files under {root} ...", file=sys.stderr)
            started = time.perf_counter()
            generate_tree(root, args.files)
            print(f"  done in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        roots = [str(root)]
        best: dict[str, float] = {}
        counts: dict[str, int] = {}
        for _round in range(max(1, args.rounds)):
            (files, _errors), seconds = timed(_core.discover, roots, list(DEFAULT_EXTENSIONS))
            best["rust discover"] = min(best.get("rust discover", float("inf")), seconds)
            counts["discover"] = len(files)
            baseline, seconds = timed(python_discover, roots, DEFAULT_EXTENSIONS)
            best["python discover"] = min(best.get("python discover", float("inf")), seconds)
            if len(baseline) != len(files):
                print(
                    f"warning: baseline found {len(baseline)}, core {len(files)}", file=sys.stderr
                )
            paths = [path for path, _size, _mtime in files]
            hashes, seconds = timed(_core.hash_files, paths)
            best["rust hash"] = min(best.get("rust hash", float("inf")), seconds)
            counts["hash"] = len(hashes)
            _digests, seconds = timed(python_hash, paths)
            best["python hash"] = min(best.get("python hash", float("inf")), seconds)

        print(f"tree: {args.files:,} files, {counts['discover']:,} videos; cpus: {os.cpu_count()}")
        print(f"{'step':<10} {'rust core':>16} {'pure python':>16} {'speed-up':>9}")
        for step in ("discover", "hash"):
            rust, python = best[f"rust {step}"], best[f"python {step}"]
            files_count = counts[step]
            print(
                f"{step:<10} {files_count / rust:>10,.0f} f/s {files_count / python:>10,.0f} f/s "
                f"{python / rust:>8.1f}x"
            )
    finally:
        if not args.keep and args.dir is None:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
