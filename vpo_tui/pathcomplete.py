"""Tab completion of a directory path from names the daemon lists (pure: no I/O).

The path is held as the API writes it (the escaped form of vpo/pathtext.py for names that are
not UTF-8), so completed names join the typed text unchanged. A Tab first extends the last part
of the path to what every candidate shares; when that adds nothing and several remain, each
further Tab puts the next candidate in place (cycling), as shells do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


def split_typed(text: str) -> tuple[str, str]:
    """(directory to list, partial name): `/srv/me` -> (`/srv`, `me`), `/srv/` -> (`/srv`, ``)."""
    if not text.startswith("/"):
        return "", text
    head, _, tail = text.rpartition("/")
    return head or "/", tail


def join(directory: str, name: str) -> str:
    return directory.rstrip("/") + "/" + name


def common_prefix(names: Sequence[str]) -> str:
    """The characters every name starts with (names, not paths: no component rules)."""
    if not names:
        return ""
    first, last = min(names), max(names)
    length = 0
    while length < min(len(first), len(last)) and first[length] == last[length]:
        length += 1
    return first[:length]


@dataclass(frozen=True)
class Completion:
    """The text after a Tab, the candidates it chose from, and whether it cycled."""

    text: str
    candidates: tuple[str, ...]
    cycling: bool = False


def complete(text: str, names: Sequence[str], previous: Completion | None = None) -> Completion:
    """One Tab on `text`, given the sub-directory `names` of its directory (sorted).

    `previous` is the last Tab's result: when the text is still what it produced and it cycled
    or could not extend, the next candidate comes.
    """
    directory, partial = split_typed(text)
    if previous is not None and _cycles(previous, text, partial):
        candidates = previous.candidates
        # The one in place (a cycle's, or a shared prefix that is itself a name) steps on.
        index = candidates.index(partial) + 1 if partial in candidates else 0
        chosen = candidates[index % len(candidates)]
        return Completion(join(directory, chosen), candidates, cycling=True)
    candidates = tuple(name for name in names if name.startswith(partial))
    if not candidates:
        return Completion(text, ())
    if len(candidates) == 1:
        return Completion(join(directory, candidates[0]) + "/", candidates)
    return Completion(join(directory, common_prefix(candidates)), candidates)


def _cycles(previous: Completion, text: str, partial: str) -> bool:
    """A repeated Tab that can no longer extend: it cycles through the candidates."""
    if previous.text != text or len(previous.candidates) < 2:
        return False
    return previous.cycling or common_prefix(previous.candidates) == partial


def complete_from_roots(text: str, roots: Sequence[str]) -> Completion:
    """Above the roots (an empty input, or a path no root holds yet): complete to a root."""
    candidates = tuple(root for root in roots if root.startswith(text))
    if not candidates:
        return Completion(text, ())
    if len(candidates) == 1:
        return Completion(candidates[0].rstrip("/") + "/", candidates)
    return Completion(common_prefix(candidates) or text, candidates)


def under_a_root(text: str, roots: Sequence[str]) -> bool:
    """Whether the directory part of `text` is a root or below one (by name)."""
    directory, _ = split_typed(text)
    return any(
        directory == root.rstrip("/") or directory.startswith(root.rstrip("/") + "/")
        for root in roots
    ) or any(root == "/" for root in roots)
