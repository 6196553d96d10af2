"""The errors of the VPO API client (`vpo/client.py`), in a module of their own so that the
daemon-address rules (`vpo/client_settings.py`) can raise them without importing the client.

Callers import them from `vpo.client`, beside the clients that raise them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class VpoError(Exception):
    """Base of every error the client raises, so callers can catch one type."""


class DaemonUnreachable(VpoError):
    """No HTTP answer at all: connection refused, DNS failure, timeout, dropped connection."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"cannot reach the VPO daemon at {url} ({reason}); {advice(reason)}")


UNKNOWN_HOST = "unknown host"


def advice(reason: str) -> str:
    """What to do about an unreachable daemon. Starting one cannot help while the host name
    itself does not resolve: then the address is what to check."""
    if reason == UNKNOWN_HOST:
        return "check the host name in --url, VPO_URL or server.bind"
    return "start it with `vpo serve`"


class InvalidUrl(VpoError):
    """The daemon URL (from --url, VPO_URL or the config) cannot be a URL of the daemon."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        super().__init__(
            f"invalid daemon URL {url!r}: {reason} (expected e.g. http://127.0.0.1:8321)"
        )


class ApiError(VpoError):
    """The daemon answered with an error status (or an answer the client cannot read)."""

    def __init__(
        self, status: int, code: str, message: str, details: Mapping[str, Any] | None = None
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.details: dict[str, Any] = dict(details or {})
        super().__init__(message)
