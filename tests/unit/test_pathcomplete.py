"""Tab completion of directory paths (vpo_tui/pathcomplete.py), pure."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from vpo_tui.pathcomplete import (
    complete,
    complete_from_roots,
    join,
    split_typed,
    under_a_root,
)

NAMES = ["Movies", "music", "musicals", "tv"]


def test_split_typed() -> None:
    assert split_typed("/srv/me") == ("/srv", "me")
    assert split_typed("/srv/") == ("/srv", "")
    assert split_typed("/srv") == ("/", "srv")
    assert split_typed("") == ("", "")


def test_one_candidate_completes_the_name_and_a_slash() -> None:
    assert complete("/srv/t", NAMES).text == "/srv/tv/"


def test_several_candidates_extend_to_what_they_share_then_cycle() -> None:
    first = complete("/srv/m", NAMES)  # "Movies" does not match: case counts, as on disk
    assert (first.text, first.candidates) == ("/srv/music", ("music", "musicals"))
    second = complete(first.text, NAMES, first)
    assert (second.text, second.cycling) == ("/srv/musicals", True)
    third = complete(second.text, NAMES, second)
    assert third.text == "/srv/music"
    shared = complete("/srv/", ["alpha", "beta"])
    assert (shared.text, shared.candidates) == ("/srv/", ("alpha", "beta"))
    assert complete(shared.text, ["alpha", "beta"], shared).text == "/srv/alpha"


def test_typing_after_a_cycle_starts_over() -> None:
    cycled = complete("/srv/music", NAMES, complete("/srv/music", NAMES))
    assert cycled.text == "/srv/musicals"
    assert complete("/srv/musicals", NAMES).text == "/srv/musicals/"


def test_no_candidate_leaves_the_text() -> None:
    result = complete("/srv/x", NAMES)
    assert (result.text, result.candidates) == ("/srv/x", ())


def test_escaped_names_join_unchanged() -> None:
    assert complete("/srv/Am", ["Am\\xe9lie"]).text == "/srv/Am\\xe9lie/"


def test_roots() -> None:
    roots = ["/srv/media", "/mnt/usb"]
    assert complete_from_roots("", roots).candidates == ("/srv/media", "/mnt/usb")
    assert complete_from_roots("/s", roots).text == "/srv/media/"
    assert under_a_root("/srv/media/tv", roots) and under_a_root("/srv/media/", roots)
    assert not under_a_root("/srv/med", roots) and not under_a_root("/srv/mediaX/a", roots)


@given(
    st.lists(st.text(alphabet="abcAB.-", min_size=1, max_size=6), unique=True, max_size=8),
    st.text(alphabet="abcAB", max_size=3),
)
def test_a_completion_only_ever_extends_to_a_listed_name(names, partial) -> None:
    names = sorted(names)
    typed = join("/lib", partial)
    result = complete(typed, names)
    assert result.text.startswith(typed)
    assert all(name.startswith(partial) for name in result.candidates)
    assert set(result.candidates) == {name for name in names if name.startswith(partial)}
    # Cycling visits every candidate, then comes back.
    if len(result.candidates) > 1:
        seen = []
        state = result
        for _ in range(2 * len(result.candidates) + 1):
            state = complete(state.text, names, state)
            seen.append(state.text)
        assert {join("/lib", name) for name in result.candidates} <= set(seen)
