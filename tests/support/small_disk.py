"""A real full disk for tests: a small tmpfs of its own, filled to the last byte.

Mounting needs root; `small_disk` skips (with the reason) otherwise. Filling this tmpfs fills
nothing else on the machine, and deleting the filler gives the space back at once, which is how
tests check that the daemon recovers without a restart.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def small_disk(mount_point: Path, size: str = "16m") -> Iterator[Path]:
    """Mount a tmpfs of `size` on `mount_point` (created) for the block; skips when not root."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount_point.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(mount_point)],
        check=True,
    )
    try:
        yield mount_point
    finally:
        # Lazy: a daemon killed by the test may still be exiting with files open on it.
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(mount_point: Path) -> Path:
    """Write a file until the file system has no byte left; returns it (delete it to free)."""
    filler = mount_point / "filler"
    with open(filler, "wb", buffering=0) as handle:
        for size in (1 << 20, 1 << 16, 1 << 12, 1 << 8, 1):
            chunk = b"\0" * size
            try:
                while True:
                    handle.write(chunk)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
    return filler
