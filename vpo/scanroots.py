"""Scan roots: the directories HTTP clients may scan and browse (`[scan] roots`).

A daemon reachable by token holders must not scan (or reveal the layout of) the whole machine:
with roots configured, a path is allowed only when its real location, after symlinks and `..`
are resolved, is a root's real location or lies beneath it. Roots are resolved at every check,
not once at start-up, so a root that is itself a symlink may be re-pointed or mounted later and
the check follows what the kernel would open now.

Paths are `str` as `os.fsdecode` gives them (surrogateescape for names that are not UTF-8).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass


def real_location(path: str) -> str:
    """Where `path` leads: absolute, `..` and every symlink resolved (as far as it exists)."""
    return os.path.realpath(path)


def _is_within(real: str, real_root: str) -> bool:
    return real == real_root or real.startswith(real_root.rstrip("/") + "/")


def allowing_root(path: str, roots: Iterable[str]) -> str | None:
    """The first root whose real location holds `path`'s real location, or None."""
    real = real_location(path)
    for root in roots:
        if _is_within(real, real_location(root)):
            return root
    return None


@dataclass(frozen=True)
class Listing:
    """A page of a directory's visible sub-directories, by name, and how many there are."""

    names: list[str]
    total: int


def sort_key(name: str) -> tuple[str, bytes]:
    """Names in the order people expect (case folded), ties by their bytes (a total order)."""
    return (name.casefold(), os.fsencode(name))


def subdirectories(directory: str, roots: Iterable[str]) -> list[str]:
    """Names of the sub-directories of `directory` a client may open, sorted.

    Hidden names (starting with '.') are left out, as the scan skips them. A symlink to a
    directory is listed only when its target is within a root: listing one that leads out would
    offer a folder every scan and browse of it would refuse. Raises OSError when `directory`
    cannot be read.
    """
    root_list = list(roots)
    names: list[str] = []
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if not entry.is_dir(follow_symlinks=True):
                    continue
                if entry.is_symlink() and allowing_root(entry.path, root_list) is None:
                    continue
            except OSError:
                continue  # vanished, or a dangling / looping link: nothing to open
            names.append(entry.name)
    names.sort(key=sort_key)
    return names


def list_subdirectories(directory: str, roots: Iterable[str], limit: int, offset: int) -> Listing:
    """One page of `subdirectories`."""
    names = subdirectories(directory, roots)
    return Listing(names=names[offset : offset + limit], total=len(names))
