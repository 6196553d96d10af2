"""Make daemon strings safe to show in a terminal.

A log line or a file name is data, never instructions to the terminal: an escape sequence in a
log line (ffprobe output, a hostile file name) could recolour, move the cursor, retitle the
window or worse. Everything the daemon sends passes through `safe_text` before it is shown, and
the widgets receive `rich.text.Text` objects so square brackets are never parsed as markup.
Invisible format characters (a right-to-left override U+202E makes `holiday\u202egnp.mkv` read
as `holidayvkm.png`, zero-width characters hide in names) are not removed but shown escaped,
so the user sees that the name holds them.
"""

from __future__ import annotations

import re

from vpo.pathtext import visible

# CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST), DCS/SOS/PM/APC (ESC P/X/^/_ ... ST),
# two-character escapes (ESC + one byte), and the 8-bit C1 forms of CSI (0x9b) and OSC (0x9d).
_ESCAPE_SEQUENCE = re.compile(
    r"""
    (?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]               # CSI
    | (?:\x1b\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?   # OSC, ends with BEL or ST
    | \x1b[PX^_][^\x1b\x9c]*(?:\x1b\\|\x9c)?        # DCS, SOS, PM, APC
    | \x1b[ -/]*[0-~]?                              # other ESC sequences (or a lone ESC)
    """,
    re.VERBOSE,
)
# Remaining C0 controls (except tab) and C1 controls, and DEL.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def strip_escapes(text: str) -> str:
    """Remove terminal escape sequences and control characters; keep tabs as spaces."""
    text = _ESCAPE_SEQUENCE.sub("", text)
    text = _CONTROL.sub("", text)
    return text.replace("\t", "    ")


def safe_text(value: object) -> str:
    """Any daemon value as one printable line (None becomes the empty string), with invisible
    format characters shown as `\\uNNNN`."""
    if value is None:
        return ""
    return visible(strip_escapes(str(value)))
