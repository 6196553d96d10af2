"""vpo/pathtext.py: the escaped form of names that are not UTF-8, and the visible form."""

from __future__ import annotations

import os
import sys
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vpo.pathtext import (
    INVISIBLE_RANGES,
    escape_undecodable,
    escaped_path,
    is_utf8,
    not_utf8_note,
    path_from_escaped,
    visible,
)

# Any bytes a Linux file name may hold: everything but '/' and NUL.
name_bytes = st.binary(min_size=1, max_size=64).map(
    lambda raw: raw.replace(b"/", b"_").replace(b"\0", b"_")
)


def test_a_latin1_name_is_escaped_readably() -> None:
    path = os.fsdecode(b"/lib/bad\xff.mkv")
    assert not is_utf8(path)
    assert escaped_path(path) == "/lib/bad\\xff.mkv"
    assert escape_undecodable(path) == "/lib/bad\\xff.mkv"
    assert visible(path) == "/lib/bad\\xff.mkv"


def test_utf8_names_pass_unchanged_backslashes_and_all() -> None:
    for path in ("/tv/Amélie.mkv", "/tv/a\\xff.mkv", "/tv/日本.mp4"):
        assert is_utf8(path)
        assert escaped_path(path) == path
        assert path_from_escaped(path, True) == path


def test_a_literal_backslash_in_a_name_that_is_not_utf8_is_doubled() -> None:
    path = os.fsdecode(b"/lib/a\\xff-\xff.mkv")
    assert escaped_path(path) == "/lib/a\\\\xff-\\xff.mkv"
    assert path_from_escaped(escaped_path(path), False) == path


@given(st.lists(name_bytes, min_size=1, max_size=4))
def test_escaped_form_round_trips_to_the_exact_bytes(parts: list[bytes]) -> None:
    raw = b"/" + b"/".join(parts)
    path = os.fsdecode(raw)
    text = escaped_path(path)
    assert is_utf8(text)  # always writable as UTF-8 / JSON text
    assert os.fsencode(path_from_escaped(text, is_utf8(path))) == raw


@pytest.mark.parametrize(
    "text",
    ["/lib/a\\q", "/lib/a\\x4", "/lib/a\\x41", "/lib/a\\", "/lib/\ud800"],
)
def test_bad_escaped_paths_are_value_errors(text: str) -> None:
    with pytest.raises(ValueError):
        path_from_escaped(text, False)


def test_a_lone_surrogate_is_refused_as_a_plain_utf8_path() -> None:
    with pytest.raises(ValueError, match="escaped"):
        path_from_escaped("/lib/bad\udcff.mkv", True)


def test_escaped_bytes_that_form_utf8_give_the_plain_name() -> None:
    assert path_from_escaped("/lib/caf\\xc3\\xa9", False) == "/lib/café"


def test_visible_escapes_bidi_overrides_zero_width_and_control_characters() -> None:
    disguised = "holiday\u202egnp.mkv"  # shows as "holidayvkm.png" when rendered raw
    assert visible(disguised) == "holiday\\u202egnp.mkv"
    assert visible("a\u2066b\u2069c\u200bd\ufeffe") == "a\\u2066b\\u2069c\\u200bd\\ufeffe"
    assert visible("line\nbreak\x1b[31m") == "line\\u000abreak\\u001b[31m"
    assert visible("tag\U000e0041") == "tag\\U000e0041"
    assert visible(None) == "" and visible(12) == "12"
    assert visible("Amélie 日本 🎬") == "Amélie 日本 🎬"


def test_the_invisible_list_is_every_format_character_and_the_separators() -> None:
    listed = {code for low, high in INVISIBLE_RANGES for code in range(low, high + 1)}
    expected = {
        code
        for code in range(sys.maxunicode + 1)
        if unicodedata.category(chr(code)) in ("Cf", "Zl", "Zp")
    }
    # Characters Unicode adds after the list was written are reported, not silently missed;
    # entries this Python's (older) Unicode does not know yet are unassigned here.
    assert expected <= listed
    assert {unicodedata.category(chr(code)) for code in listed - expected} <= {"Cn"}


def test_not_utf8_note() -> None:
    assert not_utf8_note(False) == "not UTF-8: bytes shown as \\xNN"
    assert not_utf8_note(True) == "" and not_utf8_note(None) == ""
