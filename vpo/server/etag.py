"""Entity tags and the response cache behind them (pure: no I/O, no aiohttp).

The tag of a response is a hash of its body, so it changes exactly when the body changes. What
makes a matching `If-None-Match` cheap is the cache: a response is stored under its request key
together with the version of its sources (the store's change counter; for a log also the file's
size and mtime) and, when its content depends on the clock (a running job's `duration_seconds`,
a `since` window), the second it was built in. As long as the version and, where it matters, the
second are unchanged, the stored tag is still the truth, and the poller gets its 304 without a
query or a serialisation. The version must be read *before* the body is built: a write that
lands in between then only costs one extra rebuild, never a stale tag.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass


def etag_for(body: bytes) -> str:
    """A strong entity tag (quoted) for a response body."""
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def if_none_match_matches(header: str | None, etag: str) -> bool:
    """True when an `If-None-Match` header names `etag` (or is `*`).

    If-None-Match uses the weak comparison (RFC 9110 13.1.2), so `W/"x"` matches `"x"`: a proxy
    that weakened our tag must still get its 304.
    """
    if not header:
        return False
    if header.strip() == "*":
        return True
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate.startswith("W/"):
            candidate = candidate[2:]
        if candidate == etag:
            return True
    return False


@dataclass(frozen=True)
class CachedResponse:
    """A built response body with its tag and what it was built from."""

    body: bytes
    etag: str
    status: int
    version: Hashable
    # The whole second the body was built in when it depends on the clock; None otherwise.
    second: int | None

    def is_fresh(self, version: Hashable, second: int) -> bool:
        """Still what a new build would produce: the sources have not changed, and the
        clock-dependent values (if any) are from this same second."""
        if version != self.version:
            return False
        return self.second is None or self.second == second


# What an entry costs besides its body: the key, the tag, the record and the dict's slot.
ENTRY_OVERHEAD_BYTES = 512
DEFAULT_MAX_BYTES = 4 * 1024 * 1024


class ResponseCache:
    """An LRU of CachedResponse by request key, bounded in bytes (bodies plus a fixed overhead
    per entry): what the cache holds after a burst of distinct pages is what the daemon keeps.
    Used from the event loop thread only."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self._entries: OrderedDict[Hashable, CachedResponse] = OrderedDict()
        self._max_bytes = max_bytes
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    @staticmethod
    def _cost(entry: CachedResponse) -> int:
        return len(entry.body) + ENTRY_OVERHEAD_BYTES

    def get(self, key: Hashable, version: Hashable, second: int) -> CachedResponse | None:
        """The cached response for `key` if it is still fresh, else None."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        # `is_fresh`, inlined: this runs for every poll.
        if entry.version != version or (entry.second is not None and entry.second != second):
            del self._entries[key]
            self.bytes -= self._cost(entry)
            return None
        self._entries.move_to_end(key)
        return entry

    def put(
        self,
        key: Hashable,
        body: bytes,
        *,
        version: Hashable,
        second: int,
        clock_dependent: bool,
        status: int = 200,
        etag: str | None = None,
    ) -> CachedResponse:
        """Store a freshly built body and return it with its tag (`etag`, when the caller
        already hashed the body elsewhere, must be `etag_for(body)`)."""
        entry = CachedResponse(
            body=body,
            etag=etag if etag is not None else etag_for(body),
            status=status,
            version=version,
            second=second if clock_dependent else None,
        )
        replaced = self._entries.pop(key, None)
        if replaced is not None:
            self.bytes -= self._cost(replaced)
        self._entries[key] = entry
        self.bytes += self._cost(entry)
        # The newest entry stays even when it alone is over the bound: it is being served.
        while self.bytes > self._max_bytes and len(self._entries) > 1:
            _, oldest = self._entries.popitem(last=False)
            self.bytes -= self._cost(oldest)
        return entry

    def clear(self) -> None:
        self._entries.clear()
        self.bytes = 0
