"""Finding text in a list of lines, forwards or backwards from a place, wrapping around (pure)."""

from __future__ import annotations

from collections.abc import Sequence

Location = tuple[int, int]  # (line, column)


def find_match(
    lines: Sequence[str], pattern: str, start: Location, step: int
) -> tuple[Location, bool] | None:
    """The next match of `pattern` (case-insensitive unless it holds a capital, as in less)
    after `start` (step 1) or before it (step -1), and whether the search wrapped around."""
    if not pattern or not lines:
        return None
    fold = pattern == pattern.lower()
    needle = pattern.lower() if fold else pattern

    def text(index: int) -> str:
        return lines[index].lower() if fold else lines[index]

    row, column = start
    row = min(max(row, 0), len(lines) - 1)
    count = len(lines)
    for offset in range(count + 1):
        index = (row + step * offset) % count
        wrapped = (row + step * offset) >= count or (row + step * offset) < 0
        line = text(index)
        if step > 0:
            begin = column if offset == 0 else 0
            found = line.find(needle, begin)
        else:
            limit = column if offset == 0 else len(line)
            found = line.rfind(needle, 0, max(0, limit))
        if found >= 0:
            return (index, found), wrapped
    return None
