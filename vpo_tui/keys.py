"""Each key declared once: a `KeyBinding` carries its footer word and its help line.

A screen declares each key once, as a `KeyBinding` in its BINDINGS: the footer word
(`description`) and the help line (`help`) side by side. `help_rows` turns those into the help
screen's rows, so a new key shows up in both; keys that are not the screen's bindings (arrows
handled by a widget, Enter on the table) are passed in as extra rows. Apart from the help screen
so the first frame does not import it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from textual.binding import Binding

# How a binding's key is written in the help (the footer has its own `key_display`).
KEY_NAMES = {
    "slash": "/",
    "question_mark": "?",
    "left_square_bracket": "[",
    "right_square_bracket": "]",
    "escape": "Escape",
    "end": "End",
    "home": "Home",
    "enter": "Enter",
}


@dataclass(frozen=True)
class KeyBinding(Binding):
    """A binding that also says, for the help screen, what its key does.

    Bindings with the same `help` share one row (`p` pauses and resumes; `[` and `]` page);
    the row stands where the first of them is. `help_keys` replaces the keys the row shows,
    for a key that also has another binding elsewhere (Ctrl+C quits from the app).
    """

    help: str = ""
    help_keys: str | None = None


def help_rows(
    bindings: Iterable[object],
    extra: Sequence[tuple[str, str]] = (),
    *,
    extra_before: str | None = None,
) -> list[tuple[str, str]]:
    """(keys, meaning) rows from a screen's KeyBindings, with `extra` rows for keys that are
    not bindings placed before the row of the action `extra_before` (at the top when None)."""
    rows: dict[str, list[str]] = {}
    first_action: dict[str, str] = {}
    for binding in bindings:
        if not isinstance(binding, KeyBinding) or not binding.help:
            continue
        keys = rows.setdefault(binding.help, [])
        first_action.setdefault(binding.help, binding.action)
        if binding.help_keys is not None:
            keys[:] = [binding.help_keys]
            continue
        name = KEY_NAMES.get(binding.key, binding.key)
        if name not in keys:
            keys.append(name)
    result: list[tuple[str, str]] = [] if extra_before else list(extra)
    for meaning, keys in rows.items():
        if extra_before is not None and first_action[meaning] == extra_before:
            result.extend(extra)
        result.append(("  ".join(keys), meaning))
    if extra_before is not None and extra_before not in first_action.values():
        raise ValueError(f"no key help for the action {extra_before!r}")
    return result
