"""`import httpx` without httpx's own command-line tool, for the clients' start-up time.

`import httpx` also imports `httpx._main` (click, pygments, rich.progress, rich.syntax), about
25 ms of vpo-tui's start-up that neither vpo nor vpo-tui uses. httpx imports it inside
`try: ... except ImportError` and defines a stub `main` instead; a None entry in sys.modules is
Python's way to make that import fail. Every client module imports httpx from here.
"""

from __future__ import annotations

import sys

sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

import httpx  # noqa: E402 (after the line above, on purpose)

__all__ = ["httpx"]
