"""Where the daemon is and which token to send: `--url` / `--token` flags, the VPO_URL /
VPO_TOKEN environment, the daemon's own config, then the defaults (docs/configuration.md).

Used by the CLI and the TUI before they build a client; `vpo/client.py` uses
`normalise_base_url` to check the URL it is given.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from vpo.client_errors import InvalidUrl
from vpo.httpx_import import httpx

DEFAULT_URL = "http://127.0.0.1:8321"
DEFAULT_PORT = 8321

_HOST_CHARACTERS = re.compile(r"^[A-Za-z0-9.\-_~%]+$|^\[[0-9A-Fa-f:.]+\]$")


def normalise_base_url(url: str) -> str:
    """`nas.local:8321/` -> `http://nas.local:8321`; InvalidUrl for what cannot be a daemon URL.

    Checked here, before any request, so a typo in --url or VPO_URL is reported as such rather
    than as an unreachable daemon (or an exception from deep inside httpx).
    """
    text = url.strip()
    if "://" not in text:
        text = "http://" + text
    scheme, rest = text.split("://", 1)
    text = f"{scheme}://{rest.rstrip('/')}"
    try:
        parsed = httpx.URL(text)
    except httpx.InvalidURL as exc:
        raise InvalidUrl(url, str(exc)) from None
    if parsed.scheme not in ("http", "https"):
        raise InvalidUrl(url, "it must start with http:// or https://")
    host = text.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1]
    if host.startswith("[") and "]" in host:
        host = host[: host.index("]") + 1]
    else:
        host = host.split(":", 1)[0]
    if not host or not _HOST_CHARACTERS.match(host):
        raise InvalidUrl(url, "it has no valid host name")
    if parsed.port is not None and not 1 <= parsed.port <= 65535:
        raise InvalidUrl(url, f"port {parsed.port} is not between 1 and 65535")
    return text


def url_from_bind(bind: str | None, port: int | None) -> str:
    """The URL a client on the same machine uses to reach a daemon bound to `bind`:`port`."""
    host = (bind or "127.0.0.1").strip()
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"  # a wildcard bind listens on loopback too
    elif host in ("::", "[::]"):
        host = "::1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port or DEFAULT_PORT}"


def _daemon_server_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """Where the daemon on this machine listens and its token, as `vpo serve` would read them.

    The daemon's own settings loader is used (config file in the data dir or $VPO_CONFIG, and
    the VPO_BIND / VPO_PORT / VPO_AUTH_TOKEN variables), so the client finds a local daemon with
    no options. A broken config file simply means "use the defaults": it must never stop a
    command that was given --url anyway, and the daemon itself reports the error.
    """
    from vpo.config import ConfigError, load_settings

    try:
        settings, _warnings = load_settings({}, env, check_bind=False)
    except (ConfigError, OSError):
        return {}
    return {"bind": settings.bind, "port": settings.port, "auth_token": settings.auth_token}


def osc52_enabled(env: Mapping[str, str]) -> bool:
    """`tui.osc52` (or VPO_TUI_OSC52) from the same config file: may vpo-tui's `y` copy through
    the terminal? A broken file means no, as above."""
    from vpo.config import ConfigError, load_settings

    try:
        settings, _warnings = load_settings({}, env, check_bind=False)
    except (ConfigError, OSError):
        return False
    return settings.tui_osc52


def client_settings(
    url_flag: str | None,
    token_flag: str | None,
    env: Mapping[str, str] | None = None,
    *,
    config_server: Mapping[str, Any] | None = None,
) -> tuple[str, str | None]:
    """(base URL, token) by the documented precedence: flag > environment > config > default.

    URL: `--url` > VPO_URL > the daemon's bind/port settings > http://127.0.0.1:8321.
    Token: `--token` > VPO_TOKEN > the daemon's auth token setting > none.
    `config_server` ({"bind", "port", "auth_token"}) lets tests pass the daemon's settings
    directly; otherwise they are loaded only when the flags and environment leave a gap.
    """
    env = os.environ if env is None else env
    url = url_flag or env.get("VPO_URL") or None
    token = token_flag or env.get("VPO_TOKEN") or None
    if url is None or token is None:
        server = _daemon_server_settings(env) if config_server is None else config_server
        if url is None:
            if server.get("bind") or server.get("port"):
                port = server.get("port")
                url = url_from_bind(server.get("bind"), int(port) if port else None)
            else:
                url = DEFAULT_URL
        if token is None:
            configured = server.get("auth_token")
            token = str(configured) if configured else None
    return normalise_base_url(url), token
