"""Discovery and hashing speed of the Rust core against a pure-Python baseline, in one run.

Generates a library-shaped tree (default 100,000 files in 1,000 show folders, 1 in 100 a large
sparse "movie"), then times, best of --repeat runs each, with a warm page cache:

- discovery: `vpo._core.discover` vs a recursive `os.scandir` walk with `stat` (same rules:
  extension match ignoring case, hidden directories skipped, sorted result);
- hashing: `vpo._core.hash_files` vs the same head/tail reads hashed with `hashlib.blake2b`.

It prints files per second (and MB/s of bytes actually read for hashing) and the ratio.
Run: python benchmarks/discover_hash.py [--files N] [--repeat R] [--dir PATH] [--keep]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from vpo import _core

EXTENSIONS = ["mkv", "mp4", "avi", "m4v", "ts"]
EDGE = 64 * 1024
SMALL_SIZE = 2 * 1024
LARGE_SIZE = 50 * 1024 * 1024
FILES_PER_FOLDER = 100
LARGE_EVERY = 100


def generate(root: Path, count: int) -> None:
    """Show folders of episodes with a sidecar each; every LARGE_EVERY-th file is a big sparse
    file whose head and tail hold data, like a movie whose middle is never read."""
    payload = os.urandom(SMALL_SIZE)
    edge = os.urandom(EDGE)
    for index in range(count):
        folder = root / f"Show {index // FILES_PER_FOLDER:04d}"
        if index % FILES_PER_FOLDER == 0:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "show.nfo").write_bytes(b"<tvshow/>")
        extension = EXTENSIONS[index % len(EXTENSIONS)]
        path = folder / f"Episode {index % FILES_PER_FOLDER:03d}.{extension.upper()}"
        with open(path, "wb") as handle:
            if index % LARGE_EVERY == 0:
                handle.write(edge)
                handle.seek(LARGE_SIZE - EDGE)
                handle.write(edge)
            else:
                handle.write(payload)
    (root / ".cache").mkdir(exist_ok=True)
    (root / ".cache" / "ignored.mkv").write_bytes(b"hidden directories are skipped")


def python_discover(roots: list[str], extensions: list[str]) -> list[tuple[str, int, float]]:
    """The baseline walk: recursive os.scandir with stat, one thread."""
    wanted = {ext.lower() for ext in extensions}
    found: list[tuple[str, int, float]] = []

    def visit(directory: str) -> None:
        with os.scandir(directory) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if not entry.name.startswith("."):
                        visit(entry.path)
                elif entry.name.rpartition(".")[2].lower() in wanted and entry.is_file():
                    stat = entry.stat()
                    found.append((entry.path, stat.st_size, stat.st_mtime))

    for root in roots:
        visit(os.path.abspath(root))
    found.sort()
    return found


def python_hash(paths: list[str]) -> list[str]:
    """The baseline hash: the same bytes (whole small file or head and tail, then the size)."""
    digests = []
    for path in paths:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            digest = hashlib.blake2b(digest_size=8)
            if size <= 2 * EDGE:
                digest.update(handle.read())
            else:
                digest.update(handle.read(EDGE))
                handle.seek(size - EDGE)
                digest.update(handle.read(EDGE))
            digest.update(size.to_bytes(8, "little"))
            digests.append(digest.hexdigest())
    return digests


def best_of(repeat: int, call: Callable[[], object]) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = call()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000, help="video files to generate")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (best kept)")
    parser.add_argument("--dir", type=Path, help="use (or create) the tree here and keep it")
    parser.add_argument("--keep", action="store_true", help="keep the generated tree")
    args = parser.parse_args()

    root = args.dir or Path(tempfile.mkdtemp(prefix="vpo-bench-"))
    marker = root / f".generated-{args.files}"
    try:
        if not marker.exists():
            print(f"generating {args.files:,} files under {root} ...", flush=True)
            start = time.perf_counter()
            generate(root, args.files)
            marker.touch()
            print(f"  done in {time.perf_counter() - start:.1f} s")
        roots = [str(root)]

        # Warm the page cache and check that both sides see the same library.
        rust_files, errors = _core.discover(roots, EXTENSIONS)
        python_files = python_discover(roots, EXTENSIONS)
        assert not errors, errors[:3]
        assert [f[0] for f in rust_files] == [f[0] for f in python_files], "walks disagree"
        count = len(rust_files)
        paths = [path for path, _, _ in rust_files]
        hashed_bytes = sum(min(size, 2 * EDGE) for _, size, _ in rust_files)
        python_hash(paths)

        rust_walk, _ = best_of(args.repeat, lambda: _core.discover(roots, EXTENSIONS))
        python_walk, _ = best_of(args.repeat, lambda: python_discover(roots, EXTENSIONS))
        rust_hash, results = best_of(args.repeat, lambda: _core.hash_files(paths))
        python_hash_time, _ = best_of(args.repeat, lambda: python_hash(paths))
        assert all(error is None for _, _, error in results)

        megabytes = hashed_bytes / 1e6
        print(f"{count:,} video files, {megabytes:,.0f} MB read per hash pass", end="")
        print(f", {os.cpu_count()} CPUs, best of {args.repeat}, warm page cache")
        print(f"{'':10}{'vpo._core':>22}{'pure Python':>22}{'ratio':>9}")
        print(
            f"{'discover':10}{count / rust_walk:>16,.0f} f/s  {count / python_walk:>16,.0f} f/s"
            f"  {python_walk / rust_walk:>6.1f}x"
        )
        print(
            f"{'hash':10}{count / rust_hash:>16,.0f} f/s  {count / python_hash_time:>16,.0f} f/s"
            f"  {python_hash_time / rust_hash:>6.1f}x"
        )
        print(
            f"{'hash':10}{megabytes / rust_hash:>15,.0f} MB/s  "
            f"{megabytes / python_hash_time:>15,.0f} MB/s"
        )
    finally:
        if args.dir is None and not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
