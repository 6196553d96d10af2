"""Search in the full-screen log (vpo_tui/textsearch.py), pure."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from vpo_tui.textsearch import find_match

LINES = ["INFO start", "ERROR a.mkv: bad", "INFO scanned", "ERROR b.mkv: bad"]


def test_forward_backward_and_wrapping() -> None:
    assert find_match(LINES, "error", (0, 0), 1) == ((1, 0), False)
    assert find_match(LINES, "error", (1, 1), 1) == ((3, 0), False)
    assert find_match(LINES, "error", (3, 1), 1) == ((1, 0), True)
    assert find_match(LINES, "error", (3, 0), -1) == ((1, 0), False)
    assert find_match(LINES, "error", (1, 0), -1) == ((3, 0), True)


def test_a_capital_makes_it_case_sensitive() -> None:
    assert find_match(LINES, "Error", (0, 0), 1) is None
    assert find_match(LINES, "ERROR", (0, 0), 1) == ((1, 0), False)


def test_nothing_to_find() -> None:
    assert find_match(LINES, "zzz", (0, 0), 1) is None
    assert find_match([], "a", (0, 0), 1) is None
    assert find_match(LINES, "", (0, 0), 1) is None


@given(
    st.lists(st.text(alphabet="ab \n", max_size=8).map(lambda t: t.replace("\n", "")), min_size=1),
    st.text(alphabet="ab", min_size=1, max_size=2),
    st.integers(min_value=0, max_value=20),
    st.sampled_from([1, -1]),
)
def test_a_match_is_a_real_occurrence_and_one_exists_whenever_reported(lines, pattern, row, step):
    found = find_match(lines, pattern, (row, 0), step)
    exists = any(pattern in line for line in lines)
    if found is None:
        assert not exists
    else:
        (line, column), _ = found
        assert lines[line][column : column + len(pattern)] == pattern
