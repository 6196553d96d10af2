"""File names as text: one rule for names that are not UTF-8, one for showing hostile names.

Linux file names are bytes. Python holds them as `str` the way `os.fsdecode` does: bytes that are
not valid UTF-8 become lone surrogates U+DC80..U+DCFF ("surrogateescape"), so `open()` and
`os.stat()` get the exact bytes back. Such a `str` cannot be written as UTF-8 (SQLite text, JSON
for other languages, a log file, a terminal), so at those boundaries VPO uses two forms:

- the **escaped form** (API answers and requests, with a `..._is_utf8: false` flag beside it):
  a name that is valid UTF-8 is sent unchanged; any other name has each backslash doubled and
  each byte that is not part of valid UTF-8 written as `\\xNN` (two lowercase hex digits, 80-ff).
  Together with the flag it is lossless: `path_from_escaped(escaped_path(p), False) == p`.
- the **visible form** (terminals and web pages): undecodable bytes as `\\xNN` and invisible
  format characters (bidirectional overrides and isolates, zero-width characters, the BOM) as
  `\\uNNNN`, so a name such as `film\\u202egnp.mkv` cannot pose as `filmvkm.png`. Display only:
  it is not reversible.

Messages meant for people (logs, error texts) only need `escape_undecodable`. Pure: no I/O.
"""

from __future__ import annotations

import os
import re

# Lone surrogates: U+DC80..U+DCFF are undecodable bytes 0x80..0xff; any other one cannot come
# from a file name but may arrive from a JSON "\\udXXX" escape, and is shown the same way.
_SURROGATE = re.compile("[\ud800-\udfff]")

# Unicode's format characters (general category Cf: bidi embeddings, overrides and isolates,
# zero-width space/joiners, marks, the BOM, invisible operators, tags) plus the line and
# paragraph separators. All render as nothing or reorder their neighbours; none belongs visibly
# in a file name. tests/unit/test_pathtext.py checks this list against unicodedata.
INVISIBLE_RANGES: tuple[tuple[int, int], ...] = (
    (0x00AD, 0x00AD),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x180E, 0x180E),
    (0x200B, 0x200F),
    (0x2028, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
)
# Control characters too (C0, DEL, C1): a newline or an escape sequence in a name must not
# break a line or drive the terminal.
_INVISIBLE = re.compile(
    "[\x00-\x1f\x7f-\x9f"
    + "".join(
        re.escape(chr(low)) + ("-" + re.escape(chr(high)) if high != low else "")
        for low, high in INVISIBLE_RANGES
    )
    + "]"
)
_ESCAPED_PIECE = re.compile(r"\\x([89a-f][0-9a-f])|\\\\|\\|[^\\]+")


def is_utf8(text: str) -> bool:
    """Whether `text` is valid Unicode that UTF-8 can carry (no lone surrogates)."""
    return _SURROGATE.search(text) is None


def _surrogate_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"
    return f"\\u{code:04x}"


def escape_undecodable(text: str) -> str:
    """Undecodable bytes (held as surrogates) as `\\xNN`, so the text can be written as UTF-8.

    For messages meant for people: a backslash already in the text stays single, so this is
    not reversible (use `escaped_path` where exactness matters).
    """
    if is_utf8(text):
        return text
    return _SURROGATE.sub(_surrogate_escape, text)


def escaped_path(path: str) -> str:
    """The escaped form of a path for the API (see the module docstring); lossless with the
    `is_utf8(path)` flag sent beside it."""
    if is_utf8(path):
        return path
    return escape_undecodable(path.replace("\\", "\\\\"))


def path_from_escaped(text: str, utf8: bool) -> str:
    """Inverse of `escaped_path`: the path as Python holds it (surrogateescape).

    `utf8=True` takes `text` as the name itself. `utf8=False` reads `\\\\` and `\\xNN` (NN from 80
    to ff); any other backslash is a ValueError. Raises ValueError for text that names no file.
    """
    if utf8:
        if not is_utf8(text):
            raise ValueError("the path holds a lone surrogate; send such names escaped")
        return text
    raw = bytearray()
    for piece in _ESCAPED_PIECE.finditer(text):
        if piece.group(1) is not None:
            raw.append(int(piece.group(1), 16))
        elif piece.group() == "\\\\":
            raw.append(0x5C)
        elif piece.group() == "\\":
            raise ValueError(
                "a backslash in an escaped path must start \\\\ or \\xNN with NN from 80 to ff"
            )
        else:
            if not is_utf8(piece.group()):
                raise ValueError("the path holds a lone surrogate")
            raw += piece.group().encode("utf-8")
    return os.fsdecode(bytes(raw))


def _code_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def visible(value: object) -> str:
    """Any value as text safe to show: undecodable bytes as `\\xNN`, control and invisible
    format characters as `\\uNNNN` (`\\UNNNNNNNN` beyond U+FFFF); None is the empty string.
    Display only, not reversible."""
    if value is None:
        return ""
    text = escape_undecodable(str(value))
    return _INVISIBLE.sub(_code_escape, text)


def not_utf8_note(utf8: object) -> str:
    """The note shown beside a path whose API flag says it is not UTF-8 (else empty)."""
    return "not UTF-8: bytes shown as \\xNN" if utf8 is False else ""
